"""Documents -> passages: readers for each format, boilerplate removal, chunking."""
