# squatch .rpm %post ($1: 1 install, 2 upgrade): the state directory (root
# only: the fingerprint key and caches) and the osquery autoload line.
install -d -m 0700 -o root -g root /var/lib/squatch
/usr/lib/squatch/osquery-hookup add
