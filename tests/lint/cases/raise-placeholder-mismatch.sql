-- expect: raise-placeholder-mismatch 6:5
CREATE FUNCTION check_amount(amount numeric) RETURNS void LANGUAGE plpgsql AS $fn$
BEGIN
  IF amount < 0 THEN
    RAISE NOTICE 'checking % (100%%)', amount;
    RAISE EXCEPTION 'amount % below % for order %', amount, 0;
  END IF;
END
$fn$;
