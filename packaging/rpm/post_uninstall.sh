# squatch .rpm %postun ($1: 0 erase, 1 upgrade): rpm leaves directories no
# package owns; take /usr/lib/squatch away once empty. The state directory
# /var/lib/squatch (the host's fingerprint key) stays, as rpm keeps data.
if [ "$1" = 0 ]; then
    rmdir /usr/lib/squatch 2>/dev/null || true
fi
