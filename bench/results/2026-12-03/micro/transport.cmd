env ZF_LOCKED=1 bench/transport.sh -r 3 -t 8 -p /tmp/suite-final/profile
