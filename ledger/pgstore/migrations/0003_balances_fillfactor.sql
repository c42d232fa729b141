-- PostgreSQL only (storage parameter): leave room in each balances page so
-- that updating a balance is a HOT update, which writes no index entry.
-- Other databases skip this file's effect (see doc.go).
ALTER TABLE balances SET (fillfactor = 50);
