-- expect: unused-waiver 2:1
-- sqlmig: lint-ignore ban-drop-table reason="left over"

CREATE TABLE fresh (id bigint PRIMARY KEY);
