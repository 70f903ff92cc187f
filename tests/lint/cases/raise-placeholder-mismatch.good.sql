CREATE FUNCTION check_amount(amount numeric) RETURNS void LANGUAGE plpgsql AS $fn$
BEGIN
  IF amount < 0 THEN
    RAISE EXCEPTION 'amount % below % (100%%)', amount, 0 USING ERRCODE = '22000';
  END IF;
END
$fn$;
DO $$ BEGIN RAISE NOTICE 'ready: %', now(); END $$;
