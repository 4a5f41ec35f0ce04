bench/store_bench -p 8
