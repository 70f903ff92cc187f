-- expect: adding-primary-key-constraint 3:24
SET lock_timeout = '5s';
ALTER TABLE events ADD PRIMARY KEY (id);
