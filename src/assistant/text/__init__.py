"""Words and languages: analysis, language detection, the BM25 keyword index."""
