-- Every mapped type and naming hazard the generator must handle.
CREATE TYPE mood AS ENUM ('happy', 'in progress', '1st', 'class');
COMMENT ON TYPE mood IS 'How a row feels; labels that are not identifiers on purpose.';
CREATE TYPE unused_enum AS ENUM ('A', 'B');

CREATE DOMAIN positive_int AS integer CHECK (VALUE > 0);
CREATE DOMAIN short_code AS varchar(8) NOT NULL;
CREATE DOMAIN tag_list AS text[];
CREATE DOMAIN mood_list AS mood[];

-- Composite types: an enum, an array and awkward names inside; one nests the other.
CREATE TYPE address AS (street text, zip varchar(10), mood mood, "class" text, lines text[]);
COMMENT ON TYPE address IS 'A postal address.';
CREATE TYPE shipment AS (dest address, stops address[], weight numeric(8, 3), moods mood[]);
CREATE DOMAIN checked_address AS address CHECK ((VALUE).zip <> '');

CREATE TABLE model_config (
    key   text PRIMARY KEY,
    value jsonb
);

CREATE TABLE everything (
    id              bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    uid             uuid NOT NULL DEFAULT gen_random_uuid(),
    small           smallint NOT NULL DEFAULT 7,
    big             bigint,
    real_num        real,
    double_num      double precision NOT NULL DEFAULT 1.5,
    price           numeric(12, 2) NOT NULL DEFAULT 0.00,
    ratio           numeric,
    flag            boolean NOT NULL DEFAULT false,
    name            varchar(40) NOT NULL DEFAULT 'unnamed',
    code            char(3),
    body            text,
    raw             bytea,
    born_on         date,
    wakes_at        time,
    wakes_at_tz     time with time zone,
    seen_local      timestamp,
    seen_at         timestamptz NOT NULL DEFAULT now(),
    duration        interval,
    doc             jsonb NOT NULL DEFAULT '{}'::jsonb,
    doc_list        jsonb DEFAULT '[]'::jsonb,
    legacy_json     json,
    addr            inet,
    net             cidr,
    mac             macaddr,
    feeling         mood NOT NULL DEFAULT 'in progress',
    feelings        mood[] NOT NULL DEFAULT '{}',
    matrix          integer[][],
    words           varchar(10)[],
    how_many        positive_int,
    short           short_code,
    tags            tag_list,
    total           numeric(14, 2) GENERATED ALWAYS AS (price * 2) STORED,
    "class"         text,
    "model_config"  text,
    "Weird Name"    integer,
    "datetime"      date,
    span            int4range,
    "_private"      text,
    cash            money,
    bits            bit(3),
    var_bits        varbit,
    mac8            macaddr8,
    search          tsvector,
    search_query    tsquery,
    object_id       oid,
    single_char     "char",
    ident           name,
    doc_xml         xml,
    spot            point,
    big_span        int8range,
    num_span        numrange,
    day_span        daterange,
    time_span       tstzrange,
    spans           int4multirange,
    mood_grid       mood[][],
    mood_domain     mood_list,
    positives       positive_int[],
    uids            uuid[],
    stamps          timestamptz[],
    days            date[],
    durations       interval[],
    docs            jsonb[],
    addrs           inet[],
    blobs           bytea[],
    amounts         numeric(6, 2)[],
    home            address,
    homes           address[],
    parcel          shipment,
    parcels         shipment[],
    checked         checked_address,
    config_row      model_config
);
COMMENT ON TABLE everything IS 'One column per mapped type. A "quoted" comment with a backslash \ too.';
COMMENT ON COLUMN everything.price IS 'Unit price in euros; numeric(12,2).';
COMMENT ON COLUMN everything.body IS 'A deliberately long column comment that goes on and on so that the generator has to wrap it across several lines of the output file.';

CREATE TABLE events (
    id         bigint NOT NULL,
    happened   date NOT NULL,
    PRIMARY KEY (id, happened)
) PARTITION BY RANGE (happened);
CREATE TABLE events_2026 PARTITION OF events FOR VALUES FROM ('2026-01-01') TO ('2027-01-01');

CREATE VIEW everything_names AS SELECT id, name FROM everything;
