-- Reads a rule that compiles but cannot be encoded: it is still checked.
SELECT id FROM ignore_nulls
