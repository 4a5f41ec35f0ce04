bench/zspool_bench -r 5 -t 2 -s 1
