//! `WWW-Authenticate` challenges (RFC 9110 section 11.6.1): a scheme and its parameters, several
//! challenges to a header, commas inside quoted strings. Registries send `Basic realm=...` or
//! `Bearer realm=...,service=...,scope=...`.

/// One challenge: the scheme, lowercased, and its parameters (names lowercased, values
/// unquoted).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Challenge {
    pub scheme: String,
    pub params: Vec<(String, String)>,
}

impl Challenge {
    pub fn param(&self, name: &str) -> Option<&str> {
        self.params
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }
}

/// Every challenge in the given header values. Malformed pieces are skipped rather than
/// failing the whole header: a registry's odd extension must not hide its Bearer challenge.
pub fn parse<'a>(values: impl IntoIterator<Item = &'a str>) -> Vec<Challenge> {
    let mut out = Vec::new();
    for v in values {
        parse_one(v.as_bytes(), &mut out);
    }
    out
}

fn parse_one(s: &[u8], out: &mut Vec<Challenge>) {
    let mut p = Parser { s, i: 0 };
    loop {
        p.skip_while(|b| b == b',' || is_ws(b));
        if p.done() {
            return;
        }
        let scheme = p.token();
        if scheme.is_empty() {
            p.i += 1; // not a token character: skip it
            continue;
        }
        let mut challenge = Challenge {
            scheme: scheme.to_ascii_lowercase(),
            params: Vec::new(),
        };
        loop {
            p.skip_while(|b| b == b',' || is_ws(b));
            let start = p.i;
            let name = p.token();
            if name.is_empty() {
                // End of input, or a token68 / stray character: skip to the next comma.
                p.skip_while(|b| b != b',');
                if p.done() {
                    break;
                }
                continue;
            }
            p.skip_while(is_ws);
            if p.peek() != Some(b'=') {
                // A token not followed by `=` starts the next challenge.
                p.i = start;
                break;
            }
            p.i += 1;
            p.skip_while(is_ws);
            let value = if p.peek() == Some(b'"') {
                p.quoted()
            } else {
                p.token()
            };
            challenge.params.push((name.to_ascii_lowercase(), value));
        }
        out.push(challenge);
        if p.done() {
            return;
        }
    }
}

struct Parser<'a> {
    s: &'a [u8],
    i: usize,
}

impl Parser<'_> {
    fn done(&self) -> bool {
        self.i >= self.s.len()
    }

    fn peek(&self) -> Option<u8> {
        self.s.get(self.i).copied()
    }

    fn skip_while(&mut self, f: impl Fn(u8) -> bool) {
        while self.peek().is_some_and(&f) {
            self.i += 1;
        }
    }

    fn token(&mut self) -> String {
        let start = self.i;
        self.skip_while(is_tchar);
        String::from_utf8_lossy(&self.s[start..self.i]).into_owned()
    }

    /// A quoted string starting at the opening quote; backslash escapes the next byte. An
    /// unterminated string runs to the end.
    fn quoted(&mut self) -> String {
        let mut v = Vec::new();
        self.i += 1;
        while let Some(b) = self.peek() {
            self.i += 1;
            match b {
                b'"' => break,
                b'\\' => {
                    if let Some(n) = self.peek() {
                        v.push(n);
                        self.i += 1;
                    }
                }
                _ => v.push(b),
            }
        }
        String::from_utf8_lossy(&v).into_owned()
    }
}

fn is_ws(b: u8) -> bool {
    b == b' ' || b == b'\t'
}

/// RFC 9110 `tchar`.
fn is_tchar(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn c(scheme: &str, params: &[(&str, &str)]) -> Challenge {
        Challenge {
            scheme: scheme.into(),
            params: params
                .iter()
                .map(|(k, v)| ((*k).into(), (*v).into()))
                .collect(),
        }
    }

    #[test]
    fn challenges() {
        let cases: Vec<(Vec<&str>, Vec<Challenge>)> = vec![
            (
                vec![
                    r#"Bearer realm="https://auth.docker.io/token",service="registry.docker.io",scope="repository:samalba/my-app:pull,push""#,
                ],
                vec![c(
                    "bearer",
                    &[
                        ("realm", "https://auth.docker.io/token"),
                        ("service", "registry.docker.io"),
                        ("scope", "repository:samalba/my-app:pull,push"),
                    ],
                )],
            ),
            (
                vec![r#"Basic realm="vouch", charset="UTF-8""#],
                vec![c("basic", &[("realm", "vouch"), ("charset", "UTF-8")])],
            ),
            // Two challenges in one header, mixed case, spaces around `=`, a token value.
            (
                vec![
                    r#"Basic realm="a b", BEARER Realm = "https://t/x" , service=reg,error="insufficient_scope""#,
                ],
                vec![
                    c("basic", &[("realm", "a b")]),
                    c(
                        "bearer",
                        &[
                            ("realm", "https://t/x"),
                            ("service", "reg"),
                            ("error", "insufficient_scope"),
                        ],
                    ),
                ],
            ),
            // Challenges in separate header values; escapes in quoted strings.
            (
                vec![
                    r#"Basic realm="x\"y\\z""#,
                    r#"Bearer realm="r",scope="repository:a:pull repository:b:pull""#,
                ],
                vec![
                    c("basic", &[("realm", r#"x"y\z"#)]),
                    c(
                        "bearer",
                        &[
                            ("realm", "r"),
                            ("scope", "repository:a:pull repository:b:pull"),
                        ],
                    ),
                ],
            ),
            // A scheme without parameters, then one with; an empty value.
            (
                vec!["Negotiate, Bearer realm=,service=\"s\""],
                vec![
                    c("negotiate", &[]),
                    c("bearer", &[("realm", ""), ("service", "s")]),
                ],
            ),
            // Unterminated quote runs to the end; leading commas and junk are skipped.
            (
                vec![r#" ,, Bearer realm="https://t"#],
                vec![c("bearer", &[("realm", "https://t")])],
            ),
            (vec![""], vec![]),
            (vec!["@@@"], vec![]),
        ];
        for (values, want) in cases {
            assert_eq!(parse(values.iter().copied()), want, "{values:?}");
        }
    }

    #[test]
    fn param_lookup() {
        let ch = &parse([r#"Bearer realm="r",service="s""#])[0];
        assert_eq!(ch.param("realm"), Some("r"));
        assert_eq!(ch.param("service"), Some("s"));
        assert_eq!(ch.param("scope"), None);
    }
}
