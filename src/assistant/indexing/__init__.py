"""Building an index version: documents -> passages -> vectors -> a store."""
