TRUNCATE order_items, orders;
