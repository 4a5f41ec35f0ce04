bench/store_bench
