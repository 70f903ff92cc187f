-- expect: ban-cluster 2:1
CLUSTER orders USING orders_pkey;
