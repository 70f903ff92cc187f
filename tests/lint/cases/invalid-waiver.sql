-- expect: invalid-waiver 4:1
-- expect: ban-drop-table 5:1
-- expect: unused-waiver 4:1
-- sqlmig: lint-ignore ban-drop-tables, ban-drop-column reason="typo in the rule id"
DROP TABLE legacy_orders;
