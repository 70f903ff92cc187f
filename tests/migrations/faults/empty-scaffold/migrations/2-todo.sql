-- todo
-- Runs in one transaction with its ledger row.

