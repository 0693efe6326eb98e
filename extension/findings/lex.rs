//! A small Python tokenizer that tells code from prose, and says which
//! function or module-level block each line belongs to.
//!
//! It is not a parser: one linear pass over the bytes that knows comments,
//! string literals (prefixes, triple quotes, escapes), bracket nesting and
//! logical lines, which is enough to say:
//!
//! - which byte spans are **prose**: comments, docstrings (a string that is a
//!   statement on its own) and message strings (literal arguments of
//!   `print`, logging calls, `warnings.warn`, exception constructors, and
//!   `help=`/`description=` keywords). A rule hit inside prose is text about
//!   code (a usage example, an install hint), not code; f-strings are never
//!   prose (their fields are code);
//! - which spans are **held text**: a multi-line string (triple-quoted, or a
//!   parenthesised run of literals over several lines) assigned to a name
//!   (`DOCUMENTATION = r'''...'''`, `INSTALL = """set -e ..."""`,
//!   `helps['x'] = """..."""`) whose name this file never hands to an
//!   execution sink (`exec`, `subprocess`, `os.system`, a `.write(`, a
//!   function of this file that has one) nor uses inside a function that
//!   has one. Such text is documentation or a
//!   template for somewhere else (a remote host, a sandbox, a user's
//!   terminal): it counts as prose. Held text that reaches a sink stays code;
//! - each line's **scope**: the innermost `def`/`class` it sits in, or the
//!   module level, so that a co-occurrence needs both hits in the same
//!   function or module-level block;
//! - whether a line is **import-time** code: a module-level statement outside
//!   any `def`/`class` and outside an `if __name__ == "__main__":` block,
//!   which runs when the module is imported.
//! - which `def`s and `class`es **run at import**: those that import-time
//!   code or a class body names as code (a call, a decorator, a callback),
//!   and what they call in turn; the rest run only when a user calls them.
//!
//! Malformed input (an unterminated string, unbalanced brackets) never
//! panics: the pass degrades to "code" for whatever it cannot classify.

/// What the pass learnt about one file.
#[derive(Debug, Clone, Default)]
pub struct Layout {
    /// Sorted, non-overlapping byte ranges `[start, end)` of prose.
    prose: Vec<(usize, usize)>,
    /// Per physical line: scope id (0: module level; else the 1-based line
    /// of the innermost enclosing `def`/`class` header).
    scope: Vec<u32>,
    /// Per physical line: true when it is import-time module-level code.
    import_time: Vec<bool>,
    /// Every `def`/`class`: (scope id, enclosing scope id, name).
    defs: Vec<(u32, u32, String)>,
    /// Per scope id: the scope ids of the `def`s it calls by name.
    callees: std::collections::HashMap<u32, Vec<u32>>,
    /// Per scope id: the line runs `[start, end)` it covers.
    runs: std::collections::HashMap<u32, Vec<(usize, usize)>>,
    /// Scope ids of the `def`s and `class`es that run when the module is
    /// imported: named (called, decorated, handed over as a callback) in
    /// import-time code or a class body, and what those call in turn.
    reached: std::collections::HashSet<u32>,
}

impl Layout {
    /// True when the byte at `offset` is inside a comment, docstring or
    /// message string.
    pub fn is_prose(&self, offset: usize) -> bool {
        let i = self.prose.partition_point(|&(s, _)| s <= offset);
        i > 0 && offset < self.prose[i - 1].1
    }

    /// The scope id of a 0-based line (0: module level).
    pub fn scope(&self, line: usize) -> u32 {
        self.scope.get(line).copied().unwrap_or(0)
    }

    /// True when a 0-based line is module-level code that runs on import.
    pub fn import_time(&self, line: usize) -> bool {
        self.import_time.get(line).copied().unwrap_or(false)
    }

    /// True when a 0-based line runs when the module is imported: import-time
    /// module-level code, or the body of a function or class that import-time
    /// code names (a call, a decorator, `Thread(target=f)`), directly or
    /// through the functions it calls. False for the body of a library
    /// function that only runs when a user calls it, and for a
    /// `__main__` block.
    pub fn runs_at_import(&self, line: usize) -> bool {
        if self.import_time(line) {
            return true;
        }
        let mut cur = self.scope(line);
        for _ in 0..64 {
            if cur == 0 {
                return false;
            }
            if self.reached.contains(&cur) {
                return true;
            }
            match self.parent(cur) {
                Some(p) => cur = p,
                None => return false,
            }
        }
        true
    }

    /// The prose spans (for tests and diagnostics).
    pub fn prose_spans(&self) -> &[(usize, usize)] {
        &self.prose
    }

    /// The scope enclosing the `def`/`class` `id` (0: the module). `defs`
    /// is in line order, and an id is its line + 1, so a binary search.
    fn parent(&self, id: u32) -> Option<u32> {
        self.defs
            .binary_search_by_key(&id, |d| d.0)
            .ok()
            .map(|i| self.defs[i].1)
    }

    /// True when scope `outer` (a `def`/`class`) encloses scope `inner`.
    fn encloses(&self, outer: u32, inner: u32) -> bool {
        let mut cur = inner;
        for _ in 0..64 {
            match self.parent(cur) {
                Some(p) if p == outer => return true,
                Some(p) if p != 0 => cur = p,
                _ => return false,
            }
        }
        false
    }

    /// Whether two lines belong to the same unit of behaviour: the same
    /// function or module-level block; a class and its methods; a function
    /// and one it calls; two functions one caller calls; or a module-level
    /// constant and a function that uses it. `bytes`/`starts` are the file
    /// the layout was made from.
    pub fn related(&self, bytes: &[u8], starts: &[usize], a: usize, b: usize) -> bool {
        let (sa, sb) = (self.scope(a), self.scope(b));
        if sa == sb {
            return true;
        }
        if (sa != 0 && self.encloses(sa, sb)) || (sb != 0 && self.encloses(sb, sa)) {
            return true;
        }
        let calls = |caller: u32, callee: u32| {
            self.callees
                .get(&caller)
                .is_some_and(|c| c.contains(&callee))
        };
        // A function and one it calls (module-level code counts as a
        // caller), or two functions that one caller calls.
        if calls(sa, sb) || calls(sb, sa) {
            return true;
        }
        if sa != 0
            && sb != 0
            && self
                .callees
                .values()
                .any(|c| c.contains(&sa) && c.contains(&sb))
        {
            return true;
        }
        let text = |scope: u32| -> Vec<u8> {
            let mut out = Vec::new();
            for &(from, to) in self.runs.get(&scope).map(Vec::as_slice).unwrap_or(&[]) {
                let st = starts[from];
                let en = starts.get(to).copied().unwrap_or(bytes.len());
                out.extend_from_slice(&bytes[st..en.max(st)]);
            }
            out
        };
        // A module-level constant and a function that uses it.
        let constant = |line: usize, other: u32| -> bool {
            let st = starts[line];
            let en = starts.get(line + 1).copied().unwrap_or(bytes.len());
            let raw = &bytes[st..en];
            let name_end = raw.iter().position(|&c| !ident(c)).unwrap_or(raw.len());
            let rest = &raw[name_end..];
            let assigns = name_end > 0
                && rest
                    .iter()
                    .find(|c| !matches!(c, b' ' | b'\t'))
                    .is_some_and(|&c| c == b'=')
                && rest.iter().filter(|&&c| c == b'=').count() == 1;
            assigns && contains_word(&text(other), &raw[..name_end])
        };
        (sa == 0 && constant(a, sb)) || (sb == 0 && constant(b, sa))
    }
}

/// True when `hay` holds `name` as a whole word.
fn contains_word(hay: &[u8], name: &[u8]) -> bool {
    memchr::memmem::find_iter(hay, name).any(|k| {
        (k == 0 || !ident(hay[k - 1])) && hay.get(k + name.len()).is_none_or(|&c| !ident(c))
    })
}

/// The identifier just before a `(` at `at` (`name(`, `obj.name(`).
fn callee_name(bytes: &[u8], at: usize) -> (usize, usize) {
    let mut e = at;
    while e > 0 && matches!(bytes[e - 1], b' ' | b'\t') {
        e -= 1;
    }
    let mut s = e;
    while s > 0 && ident(bytes[s - 1]) {
        s -= 1;
    }
    if bytes[..s].ends_with(b"def ") || bytes[..s].ends_with(b"class ") {
        return (s, s);
    }
    (s, e)
}

/// Callee names whose literal string arguments are messages for a person.
const MESSAGE_CALLS: &[&str] = &[
    "print",
    "pprint",
    "warn",
    "warning",
    "info",
    "debug",
    "error",
    "exception",
    "critical",
    "fatal",
    "log",
    "echo",
    "secho",
    "fail",
    "skip",
    "exit",
    "abort",
    "gettext",
    "_",
    "deprecated",
];

/// Keyword arguments whose string value is help text.
const MESSAGE_KEYWORDS: &[&str] = &[
    "help",
    "description",
    "epilog",
    "usage",
    "msg",
    "message",
    "long_description",
    "doc",
];

/// Literals that mark a line where held text could be executed or dropped
/// to disk: a held string whose name appears on such a line (or up to
/// [`SINK_LOOKBACK`] lines below one: a call whose arguments run over
/// several lines) is code.
const SINKS: &[&str] = &[
    "exec(",
    "eval(",
    "compile(",
    "system(",
    "popen(",
    "Popen(",
    "subprocess",
    "check_output(",
    "check_call(",
    "getoutput(",
    "spawn",
    "execv",
    "execl",
    "startfile(",
    "ShellExecute",
    ".write(",
    "write_text(",
    "write_bytes(",
    "writelines(",
    "shell=True",
    "run_command(",
    "\"-c\"",
    "'-c'",
    "b64decode(",
    "decompress(",
    "marshal.loads(",
];

/// How many lines above a use of a held string's name a sink may start.
const SINK_LOOKBACK: usize = 3;

/// At most this many held strings are followed per file.
const MAX_HELD: usize = 256;

/// A multi-line string assigned to a name (see the module comment).
struct Held {
    /// The base name of the assignment target.
    name: (usize, usize),
    /// The literal spans.
    spans: Vec<(usize, usize)>,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Bracket {
    Message,
    Other,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Block {
    Def(u32),
    MainGuard,
}

/// The innermost open `def`/`class` of `blocks` (0: module level).
fn enclosing_def(blocks: &[(usize, Block)]) -> u32 {
    blocks
        .iter()
        .rev()
        .find_map(|&(_, k)| match k {
            Block::Def(id) => Some(id),
            Block::MainGuard => None,
        })
        .unwrap_or(0)
}

/// Bytes the pass must look at inside a statement.
static STRUCTURAL: [bool; 256] = {
    let mut t = [false; 256];
    let mut k = 0;
    let special = b"#\n()[]{}'\"";
    while k < special.len() {
        t[special[k] as usize] = true;
        k += 1;
    }
    t
};

fn ident(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'_'
}

/// The kind of a `(` at `at`: a message call when the name before it is one.
fn call_kind(bytes: &[u8], at: usize) -> Bracket {
    let mut e = at;
    while e > 0 && (bytes[e - 1] == b' ' || bytes[e - 1] == b'\t') {
        e -= 1;
    }
    let mut s = e;
    while s > 0 && ident(bytes[s - 1]) {
        s -= 1;
    }
    if s == e {
        return Bracket::Other;
    }
    let name = &bytes[s..e];
    let is_message = MESSAGE_CALLS.iter().any(|m| m.as_bytes() == name)
        || [&b"Error"[..], b"Exception", b"Warning", b"Exit"]
            .iter()
            .any(|suffix| name.ends_with(suffix) && name.len() > suffix.len());
    if is_message {
        Bracket::Message
    } else {
        Bracket::Other
    }
}

/// True when the string token starting at `at` is the value of a help-text
/// keyword argument (`help="..."`).
fn keyword_message(bytes: &[u8], at: usize) -> bool {
    let mut e = at;
    while e > 0 && matches!(bytes[e - 1], b' ' | b'\t') {
        e -= 1;
    }
    if e == 0 || bytes[e - 1] != b'=' {
        return false;
    }
    e -= 1;
    if e > 0 && matches!(bytes[e - 1], b'=' | b'!' | b'<' | b'>') {
        return false;
    }
    while e > 0 && matches!(bytes[e - 1], b' ' | b'\t') {
        e -= 1;
    }
    let mut s = e;
    while s > 0 && ident(bytes[s - 1]) {
        s -= 1;
    }
    let name = &bytes[s..e];
    MESSAGE_KEYWORDS.iter().any(|k| k.as_bytes() == name)
}

/// The end (exclusive) of a string body starting at `i` (just after the
/// opening quote(s)).
fn string_end(bytes: &[u8], mut i: usize, q: u8, triple: bool) -> usize {
    let n = bytes.len();
    if triple {
        while i < n {
            match memchr::memchr2(q, b'\\', &bytes[i..]) {
                None => return n,
                Some(k) => {
                    let j = i + k;
                    if bytes[j] == b'\\' {
                        i = j + 2;
                    } else if j + 2 < n && bytes[j + 1] == q && bytes[j + 2] == q {
                        return j + 3;
                    } else {
                        i = j + 1;
                    }
                }
            }
        }
        n
    } else {
        while i < n {
            match memchr::memchr3(q, b'\\', b'\n', &bytes[i..]) {
                None => return n,
                Some(k) => {
                    let j = i + k;
                    match bytes[j] {
                        b'\\' => i = j + 2,
                        b'\n' => return j,
                        _ => return j + 1,
                    }
                }
            }
        }
        n
    }
}

/// The held string whose first literal starts at `p` (prefix included), if
/// the literal is the whole value of an assignment (`NAME = """..."""`,
/// `NAME = (\n "..." \n f"..."\n)`) and spans several lines.
fn held_string(
    bytes: &[u8],
    stmt_first: Option<usize>,
    p: usize,
    brackets: &[Bracket],
) -> Option<Held> {
    let first = stmt_first?;
    let n = bytes.len();
    // Before the literal: `=` (after an optional `(` that opens the run).
    let mut e = p;
    while e > first && bytes[e - 1].is_ascii_whitespace() {
        e -= 1;
    }
    let paren = e > first && bytes[e - 1] == b'(';
    if paren {
        e -= 1;
        while e > first && bytes[e - 1].is_ascii_whitespace() {
            e -= 1;
        }
    }
    if brackets.len() != usize::from(paren) || e <= first || bytes[e - 1] != b'=' {
        return None;
    }
    if e >= 2
        && matches!(
            bytes[e - 2],
            b'=' | b'!' | b'<' | b'>' | b'+' | b'-' | b'*' | b'/' | b'%' | b'|' | b'&' | b':'
        )
    {
        return None;
    }
    // The target: an identifier at the start of the statement (then
    // `.attr`, `[key]` or `: type` may follow).
    let name_end = bytes[first..e]
        .iter()
        .position(|&c| !ident(c))
        .map_or(e, |k| first + k);
    if name_end == first || bytes[first].is_ascii_digit() {
        return None;
    }
    let target = &bytes[first..e - 1];
    if target.contains(&b'(') || target.contains(&b'\n') {
        return None;
    }
    // The literals: one, or (in parentheses) a run of them.
    let mut spans = Vec::new();
    let mut i = p;
    loop {
        let mut q = i;
        while q < n
            && matches!(
                bytes[q],
                b'r' | b'R' | b'b' | b'B' | b'u' | b'U' | b'f' | b'F'
            )
            && q - i < 3
        {
            q += 1;
        }
        if q >= n || !matches!(bytes[q], b'"' | b'\'') {
            return None;
        }
        let qc = bytes[q];
        let triple = q + 2 < n && bytes[q + 1] == qc && bytes[q + 2] == qc;
        let end = string_end(bytes, if triple { q + 3 } else { q + 1 }, qc, triple);
        spans.push((i, end));
        if !paren {
            break;
        }
        // Next token: another literal, or the closing `)`.
        let mut j = end;
        loop {
            while j < n && bytes[j].is_ascii_whitespace() {
                j += 1;
            }
            if j < n && bytes[j] == b'#' {
                j = memchr::memchr(b'\n', &bytes[j..]).map_or(n, |k| j + k);
                continue;
            }
            break;
        }
        if j < n && bytes[j] == b')' {
            break;
        }
        if spans.len() >= 4096 {
            return None;
        }
        i = j;
    }
    let (s0, e0) = (spans[0].0, spans[spans.len() - 1].1);
    // Held text runs over several lines (a one-line constant is a value).
    memchr::memchr(b'\n', &bytes[s0..e0])?;
    Some(Held {
        name: (first, name_end),
        spans,
    })
}

/// Runs the pass over `bytes`, whose physical lines start at `starts`
/// (byte offsets, `starts[0] == 0`).
pub fn layout(bytes: &[u8], starts: &[usize]) -> Layout {
    let n = bytes.len();
    let mut prose: Vec<(usize, usize)> = Vec::new();
    let mut held: Vec<Held> = Vec::new();
    // Logical line starts: (line, scope, import_time).
    let mut marks: Vec<(usize, u32, bool)> = Vec::new();
    let mut brackets: Vec<Bracket> = Vec::new();
    let mut blocks: Vec<(usize, Block)> = Vec::new();
    let mut defs: Vec<(u32, u32, String)> = Vec::new();
    // (calling scope, callee name span) of every call.
    let mut calls: Vec<(u32, usize, usize)> = Vec::new();
    let mut cur_scope = 0u32;
    // `class` scope ids, and every string literal's span (for the names
    // import-time code mentions).
    let mut classes: std::collections::HashSet<u32> = std::collections::HashSet::new();
    let mut strings: Vec<(usize, usize)> = Vec::new();
    // Offset of the first token of the current logical line, once seen.
    let mut stmt_first: Option<usize> = None;
    let mut line_start = 0usize;
    let mut continued = false;
    // A docstring run by exec(__doc__) is code.
    let docs_run = memchr::memmem::find(bytes, b"__doc__").is_some()
        && (memchr::memmem::find(bytes, b"exec(").is_some()
            || memchr::memmem::find(bytes, b"eval(").is_some()
            || memchr::memmem::find(bytes, b"compile(").is_some());
    let line_of = |off: usize| starts.partition_point(|&s| s <= off).saturating_sub(1);
    let mut i = 0usize;
    while i < n {
        // Inside a statement only the structural bytes matter: skip the
        // rest in a tight loop (this pass runs over every scanned file).
        if stmt_first.is_some() {
            while i < n && !STRUCTURAL[bytes[i] as usize] {
                i += 1;
            }
            if i >= n {
                break;
            }
        }
        let b = bytes[i];
        // The first token of a logical line: indentation decides blocks.
        if stmt_first.is_none()
            && brackets.is_empty()
            && !matches!(b, b' ' | b'\t' | b'\r' | b'\x0c')
        {
            if b == b'\n' || b == b'#' {
                // Blank or comment-only line: no statement.
            } else if !continued {
                let indent = i - line_start;
                while blocks.last().is_some_and(|&(ind, _)| ind >= indent) {
                    blocks.pop();
                }
                let rest = &bytes[i..n.min(i + 24)];
                let line = line_of(i);
                if rest.starts_with(b"def ")
                    || rest.starts_with(b"async def ")
                    || rest.starts_with(b"class ")
                {
                    let parent = enclosing_def(&blocks);
                    let word = rest.strip_prefix(b"async ").unwrap_or(rest);
                    let word = word.splitn(2, |&c| c == b' ').nth(1).unwrap_or(b"");
                    let name_at = i + (rest.len() - word.len());
                    let name_end = bytes[name_at..]
                        .iter()
                        .position(|&c| !ident(c))
                        .map_or(n, |k| name_at + k);
                    let id = line as u32 + 1;
                    if rest.starts_with(b"class ") {
                        classes.insert(id);
                    }
                    defs.push((
                        id,
                        parent,
                        String::from_utf8_lossy(&bytes[name_at..name_end]).into_owned(),
                    ));
                    blocks.push((indent, Block::Def(id)));
                } else if rest.starts_with(b"if __name__")
                    || rest.starts_with(b"if \"__main__\"")
                    || rest.starts_with(b"if '__main__'")
                {
                    blocks.push((indent, Block::MainGuard));
                }
                let scope = enclosing_def(&blocks);
                marks.push((line, scope, blocks.is_empty()));
                cur_scope = scope;
                stmt_first = Some(i);
            } else {
                stmt_first = Some(i);
            }
        }
        match b {
            b'#' => {
                let end = memchr::memchr(b'\n', &bytes[i..]).map_or(n, |k| i + k);
                prose.push((i, end));
                i = end;
            }
            b'\n' => {
                if brackets.is_empty() {
                    continued = i > 0 && bytes[i - 1] == b'\\'
                        || (i > 1 && bytes[i - 1] == b'\r' && bytes[i - 2] == b'\\');
                    if !continued {
                        stmt_first = None;
                    }
                }
                i += 1;
                line_start = i;
            }
            b'(' => {
                if brackets.len() < 512 {
                    brackets.push(call_kind(bytes, i));
                }
                let (s, e) = callee_name(bytes, i);
                if s < e && calls.len() < 200_000 {
                    calls.push((cur_scope, s, e));
                }
                i += 1;
            }
            b'[' | b'{' => {
                if brackets.len() < 512 {
                    brackets.push(Bracket::Other);
                }
                i += 1;
            }
            b')' | b']' | b'}' => {
                brackets.pop();
                i += 1;
            }
            b'"' | b'\'' => {
                // String prefix letters just before the quote.
                let mut p = i;
                while p > 0
                    && i - p < 3
                    && matches!(
                        bytes[p - 1],
                        b'r' | b'R' | b'b' | b'B' | b'u' | b'U' | b'f' | b'F'
                    )
                {
                    p -= 1;
                }
                if p > 0 && ident(bytes[p - 1]) {
                    p = i;
                }
                let prefix = &bytes[p..i];
                let fstring = prefix.iter().any(|c| matches!(c, b'f' | b'F'));
                let triple = i + 2 < n && bytes[i + 1] == b && bytes[i + 2] == b;
                let body = if triple { i + 3 } else { i + 1 };
                let end = string_end(bytes, body, b, triple);
                if strings.len() < 1_000_000 {
                    strings.push((p, end));
                }
                let mut after = end;
                while after < n && matches!(bytes[after], b' ' | b'\t' | b'\r') {
                    after += 1;
                }
                let statement = brackets.is_empty()
                    && stmt_first == Some(p)
                    && (after >= n || matches!(bytes[after], b'\n' | b'#' | b';'));
                let is_prose = !fstring
                    && ((statement && !docs_run)
                        || (!brackets.is_empty()
                            && (brackets.last() == Some(&Bracket::Message)
                                || keyword_message(bytes, p))));
                if is_prose {
                    prose.push((p, end));
                } else if held.len() < MAX_HELD && !docs_run {
                    if let Some(h) = held_string(bytes, stmt_first, p, &brackets) {
                        held.push(h);
                    }
                }
                i = end.max(i + 1);
            }
            _ => i += 1,
        }
    }
    let lines = starts.len();
    let mut scope = vec![0u32; lines];
    let mut import_time = vec![false; lines];
    for (k, &(line, sc, it)) in marks.iter().enumerate() {
        let next = marks
            .get(k + 1)
            .map_or(lines, |m| m.0)
            .max(line + 1)
            .min(lines);
        for l in line..next {
            scope[l] = sc;
            import_time[l] = it;
        }
    }
    let mut by_name: std::collections::HashMap<&[u8], Vec<u32>> = std::collections::HashMap::new();
    for (id, _, name) in &defs {
        by_name.entry(name.as_bytes()).or_default().push(*id);
    }
    let mut callees: std::collections::HashMap<u32, Vec<u32>> = std::collections::HashMap::new();
    for &(caller, s, e) in &calls {
        if let Some(ids) = by_name.get(&bytes[s..e]) {
            let c = callees.entry(caller).or_default();
            for &id in ids {
                if id != caller && !c.contains(&id) {
                    c.push(id);
                }
            }
        }
    }
    let reached = import_reached(
        bytes,
        starts,
        &scope,
        &import_time,
        &defs,
        &classes,
        &strings,
        &callees,
    );
    let mut runs: std::collections::HashMap<u32, Vec<(usize, usize)>> =
        std::collections::HashMap::new();
    let mut l = 0;
    while l < lines {
        let sc = scope[l];
        let mut e = l + 1;
        while e < lines && scope[e] == sc {
            e += 1;
        }
        runs.entry(sc).or_default().push((l, e));
        l = e;
    }
    if !held.is_empty() {
        let line_text = |l: usize| {
            let st = starts[l];
            let en = starts.get(l + 1).copied().unwrap_or(n);
            &bytes[st..en.max(st)]
        };
        let has_sink = |raw: &[u8]| {
            SINKS
                .iter()
                .any(|k| memchr::memmem::find(raw, k.as_bytes()).is_some())
        };
        // Functions of this file whose body holds a sink.
        let sink_ids: std::collections::HashSet<u32> = defs
            .iter()
            .filter(|(id, _, _)| {
                runs.get(id).is_some_and(|rs| {
                    rs.iter()
                        .any(|&(from, to)| (from..to).any(|l| has_sink(line_text(l))))
                })
            })
            .map(|(id, _, _)| *id)
            .collect();
        let sink_defs: std::collections::HashSet<&[u8]> = defs
            .iter()
            .filter(|(id, _, _)| sink_ids.contains(id))
            .map(|(_, _, name)| name.as_bytes())
            .collect();
        let calls_sink_def = |raw: &[u8]| {
            memchr::memchr_iter(b'(', raw).any(|k| {
                let (s, e) = callee_name(raw, k);
                s < e && sink_defs.contains(&raw[s..e])
            })
        };
        for h in &held {
            let name = &bytes[h.name.0..h.name.1];
            let inside = |off: usize| h.spans.iter().any(|&(s, e)| s <= off && off < e);
            let executed = memchr::memmem::find_iter(bytes, name).any(|k| {
                if k == h.name.0 || inside(k) {
                    return false;
                }
                let whole = (k == 0 || !ident(bytes[k - 1]))
                    && bytes.get(k + name.len()).is_none_or(|&c| !ident(c));
                if !whole {
                    return false;
                }
                let line = line_of(k);
                // Used in a function that has a sink (`cmd = DEFAULT if ...`
                // then `Popen([..., cmd])`): code.
                if scope[line] != 0 && sink_ids.contains(&scope[line]) {
                    return true;
                }
                (line.saturating_sub(SINK_LOOKBACK)..=line).any(|l| {
                    let raw = line_text(l);
                    has_sink(raw) || calls_sink_def(raw)
                })
            });
            if !executed {
                prose.extend(h.spans.iter().copied());
            }
        }
        prose.sort_unstable();
    }
    Layout {
        prose,
        scope,
        import_time,
        defs,
        callees,
        runs,
        reached,
    }
}

/// The `def`/`class` scope ids that run on import (see
/// [`Layout::runs_at_import`]): every identifier in code (not strings or
/// comments) on an import-time line or in a class body, other than the
/// name a `def`/`class` header defines, that names a `def`/`class` of the
/// file; then, to a fixed point, the functions those call and the methods
/// of reached classes.
#[allow(clippy::too_many_arguments)]
fn import_reached(
    bytes: &[u8],
    starts: &[usize],
    scope: &[u32],
    import_time: &[bool],
    defs: &[(u32, u32, String)],
    classes: &std::collections::HashSet<u32>,
    strings: &[(usize, usize)],
    callees: &std::collections::HashMap<u32, Vec<u32>>,
) -> std::collections::HashSet<u32> {
    use std::collections::{HashMap, HashSet};
    let mut reached: HashSet<u32> = HashSet::new();
    if defs.is_empty() {
        return reached;
    }
    let mut by_name: HashMap<&[u8], Vec<u32>> = HashMap::new();
    for (id, _, name) in defs {
        by_name.entry(name.as_bytes()).or_default().push(*id);
    }
    let n = bytes.len();
    let mut si = 0usize;
    for l in 0..starts.len() {
        if !(import_time[l] || classes.contains(&scope[l])) {
            continue;
        }
        let (s, e) = (starts[l], starts.get(l + 1).copied().unwrap_or(n));
        let mut i = s;
        let mut after_def = false;
        while i < e {
            while si < strings.len() && strings[si].1 <= i {
                si += 1;
            }
            if si < strings.len() && strings[si].0 <= i {
                i = strings[si].1.max(i + 1);
                continue;
            }
            let b = bytes[i];
            if b == b'#' {
                break;
            }
            if ident(b) && !b.is_ascii_digit() && (i == s || !ident(bytes[i - 1])) {
                let mut j = i;
                while j < e && ident(bytes[j]) {
                    j += 1;
                }
                let word = &bytes[i..j];
                if !after_def {
                    if let Some(ids) = by_name.get(word) {
                        reached.extend(ids.iter().copied());
                    }
                }
                after_def = matches!(word, b"def" | b"class");
                i = j;
                continue;
            }
            i += 1;
        }
    }
    // The methods of each class, gathered once (not a pass over every
    // definition per class reached).
    let mut methods: HashMap<u32, Vec<u32>> = HashMap::new();
    for (id, parent, _) in defs {
        if classes.contains(parent) {
            methods.entry(*parent).or_default().push(*id);
        }
    }
    let mut work: Vec<u32> = reached.iter().copied().collect();
    while let Some(id) = work.pop() {
        let mut next: Vec<u32> = callees.get(&id).cloned().unwrap_or_default();
        if let Some(m) = methods.get(&id) {
            next.extend(m.iter().copied());
        }
        for c in next {
            if reached.insert(c) {
                work.push(c);
            }
        }
    }
    reached
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lay(src: &str) -> (Layout, Vec<usize>) {
        let mut starts = vec![0];
        starts.extend(src.match_indices('\n').map(|(i, _)| i + 1));
        (layout(src.as_bytes(), &starts), starts)
    }

    fn prose_at(src: &str, needle: &str) -> bool {
        let (l, _) = lay(src);
        l.is_prose(src.find(needle).expect("needle"))
    }

    #[test]
    fn comments_docstrings_and_messages_are_prose() {
        let src = "def f():\n    \"\"\"Run `curl x | sh` first.\"\"\"\n    x = 1  # curl y | sh\n    raise RuntimeError('install: curl z | sh')\n";
        assert!(prose_at(src, "curl x"));
        assert!(prose_at(src, "curl y"));
        assert!(prose_at(src, "curl z"));
        let src = "logger.warning(\"see https://a.invalid\")\nparser.add_argument('--u', help='curl w | sh')\n";
        assert!(prose_at(src, "https://a.invalid"));
        assert!(prose_at(src, "curl w"));
    }

    #[test]
    fn code_strings_stay_code() {
        let src = "os.system('curl x | sh')\ncode = \"\"\"import os\"\"\"\nexec(code)\nprint(requests.get('https://b.invalid').text)\nlogger.info(f\"{os.environ['HF_TOKEN']}\")\n\"abc\".join(x)\n";
        assert!(!prose_at(src, "curl x"));
        assert!(!prose_at(src, "import os"));
        assert!(!prose_at(src, "https://b.invalid"));
        assert!(!prose_at(src, "HF_TOKEN"));
        assert!(!prose_at(src, "abc"));
        // A docstring that the module executes is code.
        let src = "\"\"\"import os\"\"\"\nexec(__doc__)\n";
        assert!(!prose_at(src, "import os"));
    }

    #[test]
    fn scopes_and_import_time() {
        let src = "import os\nTOKEN = os.environ['X']\n\ndef send():\n    a = 1\n\n    b = 2\nclass C:\n    def m(self):\n        pass\n    y = 3\nz = 4\nif __name__ == '__main__':\n    main()\n";
        let (l, _) = lay(src);
        assert_eq!(l.scope(1), 0);
        assert!(l.import_time(1));
        assert_eq!(l.scope(3), 4);
        assert_eq!(l.scope(4), 4);
        assert_eq!(l.scope(6), 4);
        assert!(!l.import_time(6));
        assert_eq!(l.scope(9), 9);
        assert_eq!(l.scope(10), 8);
        assert_eq!(l.scope(11), 0);
        assert!(l.import_time(11));
        assert!(!l.import_time(13));
    }

    #[test]
    fn malformed_input_does_not_panic() {
        for src in [
            "'unterminated",
            "\"\"\"open",
            ")))]]}",
            "f(\\\n",
            "\\",
            "'\\",
            "\"\"\"\\",
        ] {
            let _ = lay(src);
        }
    }
}
