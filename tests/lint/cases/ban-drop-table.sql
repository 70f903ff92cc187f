-- expect: ban-drop-table 2:1
DROP TABLE legacy_orders;
