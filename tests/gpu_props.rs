//! Property tests: the gpu parsers of untrusted text never panic.

use proptest::prelude::*;
use squatch::gpu::rules::builtin;
use squatch::gpu::{envfiles, icd, ldso, modprobe, rpm, toolkit, units};

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn text_checks_never_panic(text in "(?s)[ -~\t\n\\\\$;&|=\"'{}#:/@.a-zA-Z_0-9\u{e9}\u{2028}]{0,400}") {
        let r = builtin();
        let _ = modprobe::check(r, &text);
        let _ = envfiles::check(r, &text);
        let _ = units::check_unit(r, &text);
        let _ = units::check_udev(r, &text);
        let _ = ldso::check_preload(&text);
        let _ = ldso::parse_conf(&text);
        let _ = toolkit::check_config(r, &text);
        let _ = toolkit::check_oci_hook(r, &text);
        let _ = toolkit::check_cdi(r, &text, true);
        let _ = toolkit::check_cdi(r, &text, false);
        let _ = icd::parse_json(&text);
        let _ = icd::opencl_library(&text);
        let _ = envfiles::strip_expansions(&text);
    }

    #[test]
    fn rpm_headers_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..600)) {
        let _ = rpm::parse_header(&bytes);
    }

    #[test]
    fn version_order_is_antisymmetric(a in "[0-9]{1,2}(\\.[0-9]{1,2}){0,3}(~rc[0-9])?(-[0-9])?", b in "[0-9]{1,2}(\\.[0-9]{1,2}){0,3}(~rc[0-9])?(-[0-9])?") {
        prop_assert_eq!(toolkit::compare_versions(&a, &b), toolkit::compare_versions(&b, &a).reverse());
    }
}
