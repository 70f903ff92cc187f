-- sqlmig: lint-ignore ban-drop-table reason="replaced by purchases in v3"
DROP TABLE legacy_orders;
