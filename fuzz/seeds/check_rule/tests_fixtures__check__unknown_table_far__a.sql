SELECT id FROM completely_different
