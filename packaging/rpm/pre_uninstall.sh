# squatch .rpm %preun ($1: 0 erase, 1 upgrade): on erase, take squatch's line
# (only it) out of osquery's autoload file while the helper is still there.
if [ "$1" = 0 ] && [ -x /usr/lib/squatch/osquery-hookup ]; then
    /usr/lib/squatch/osquery-hookup remove
fi
