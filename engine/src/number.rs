//! Lua 5.4 number semantics: integer/float conversions, arithmetic with
//! floor semantics, exact mixed comparisons, string<->number conversion.
//!
//! Everything here is pure; the interpreter and the JIT runtime share it so
//! every tier computes bit-identical results.

/// `f` as an integer if it has an exact integer value in range.
#[inline(always)]
pub(crate) fn float_to_int_exact(f: f64) -> Option<i64> {
    // -2^63 <= f < 2^63 and integral.
    if (-9223372036854775808.0..9223372036854775808.0).contains(&f) {
        let i = f as i64;
        if i as f64 == f {
            return Some(i);
        }
    }
    None
}

#[inline]
pub(crate) fn int_floor_div(a: i64, b: i64) -> i64 {
    // b != 0 checked by the caller; -1 handled to avoid overflow trap.
    if b == -1 {
        return a.wrapping_neg();
    }
    let q = a / b;
    if (a % b != 0) && ((a ^ b) < 0) { q - 1 } else { q }
}

#[inline]
pub(crate) fn int_mod(a: i64, b: i64) -> i64 {
    if b == -1 {
        return 0;
    }
    let r = a % b;
    if r != 0 && (r ^ b) < 0 { r + b } else { r }
}

#[inline]
pub(crate) fn float_mod(a: f64, b: f64) -> f64 {
    let m = a % b;
    if m != 0.0 && (m > 0.0) != (b > 0.0) { m + b } else { m }
}

#[inline]
pub(crate) fn shift_left(a: i64, b: i64) -> i64 {
    if b <= -64 || b >= 64 {
        0
    } else if b >= 0 {
        ((a as u64) << b) as i64
    } else {
        ((a as u64) >> (-b)) as i64
    }
}

#[inline]
pub(crate) fn lt_int_float(i: i64, f: f64) -> bool {
    if (-(1i64 << 53)..=(1i64 << 53)).contains(&i) {
        (i as f64) < f
    } else if f.is_nan() {
        false
    } else if f >= 9223372036854775808.0 {
        true
    } else if f > -9223372036854775808.0 {
        // i < f  <=>  i < ceil(f)
        i < f.ceil() as i64
    } else {
        false
    }
}

#[inline]
pub(crate) fn le_int_float(i: i64, f: f64) -> bool {
    if (-(1i64 << 53)..=(1i64 << 53)).contains(&i) {
        (i as f64) <= f
    } else if f.is_nan() {
        false
    } else if f >= 9223372036854775808.0 {
        true
    } else if f >= -9223372036854775808.0 {
        i <= f.floor() as i64
    } else {
        false
    }
}

#[inline]
pub(crate) fn lt_float_int(f: f64, i: i64) -> bool {
    if (-(1i64 << 53)..=(1i64 << 53)).contains(&i) {
        f < (i as f64)
    } else if f.is_nan() || f >= 9223372036854775808.0 {
        false
    } else if f >= -9223372036854775808.0 {
        (f.floor() as i64) < i
    } else {
        true
    }
}

#[inline]
pub(crate) fn le_float_int(f: f64, i: i64) -> bool {
    if (-(1i64 << 53)..=(1i64 << 53)).contains(&i) {
        f <= (i as f64)
    } else if f.is_nan() || f >= 9223372036854775808.0 {
        false
    } else if f > -9223372036854775808.0 {
        (f.ceil() as i64) <= i
    } else {
        true
    }
}

/// Formats with C's `printf` so output is byte-identical to PUC Lua.
pub(crate) fn c_format_float(spec: &str, f: f64) -> String {
    let cspec = std::ffi::CString::new(spec).expect("format spec has no NUL");
    let mut buf = vec![0u8; 512];
    // SAFETY: the buffer is large enough for any %.99 conversion of a double
    // except huge %f values, for which snprintf reports the needed size and
    // we retry with it.
    let n = unsafe { libc::snprintf(buf.as_mut_ptr() as *mut libc::c_char, buf.len(), cspec.as_ptr(), f) };
    let n = n.max(0) as usize;
    if n >= buf.len() {
        buf = vec![0u8; n + 1];
        // SAFETY: as above, now with the exact size.
        unsafe { libc::snprintf(buf.as_mut_ptr() as *mut libc::c_char, buf.len(), cspec.as_ptr(), f) };
    }
    buf.truncate(n);
    String::from_utf8(buf).unwrap_or_default()
}

/// `tostring` of a float: `%.14g`, plus `.0` when it looks like an integer.
pub(crate) fn fmt_float(f: f64, out: &mut Vec<u8>) {
    if f.is_finite() && f == f.trunc() && f.abs() < 1e14 {
        // Fast path for integral floats: same digits %.14g would print.
        if f == 0.0 && f.is_sign_negative() {
            out.extend_from_slice(b"-0.0");
        } else {
            out.extend_from_slice(format!("{}.0", f as i64).as_bytes());
        }
        return;
    }
    let s = c_format_float("%.14g", f);
    out.extend_from_slice(s.as_bytes());
    if s.bytes().all(|c| c == b'-' || c.is_ascii_digit()) {
        out.extend_from_slice(b".0");
    }
}

pub(crate) fn fmt_int(i: i64, out: &mut Vec<u8>) {
    let mut buf = [0u8; 20];
    let mut n = i.unsigned_abs();
    let mut p = buf.len();
    loop {
        p -= 1;
        buf[p] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    if i < 0 {
        out.push(b'-');
    }
    out.extend_from_slice(&buf[p..]);
}

/// A parsed numeral.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) enum Num {
    Int(i64),
    Float(f64),
}

fn is_space(c: u8) -> bool {
    matches!(c, b' ' | b'\t' | b'\n' | b'\r' | 0x0b | 0x0c)
}

/// Lua's `lua_stringtonumber`: surrounding whitespace allowed, decimal and
/// hex integers (hex wraps around), decimal and hex floats, no inf/nan.
pub(crate) fn str_to_number(s: &[u8]) -> Option<Num> {
    let start = s.iter().position(|&c| !is_space(c))?;
    let end = s.iter().rposition(|&c| !is_space(c))? + 1;
    let t = &s[start..end];
    let (neg, body) = match t.first() {
        Some(b'-') => (true, &t[1..]),
        Some(b'+') => (false, &t[1..]),
        _ => (false, t),
    };
    if body.is_empty() {
        return None;
    }
    if body.len() > 2 && body[0] == b'0' && (body[1] | 0x20) == b'x' {
        return parse_hex(&body[2..], neg);
    }
    // Decimal integer?
    if body.iter().all(|c| c.is_ascii_digit()) {
        let mut v: i64 = 0;
        let mut overflow = false;
        for &c in body {
            match v.checked_mul(10).and_then(|x| x.checked_add((c - b'0') as i64)) {
                Some(x) => v = x,
                None => {
                    overflow = true;
                    break;
                }
            }
        }
        if !overflow {
            return Some(Num::Int(if neg { v.wrapping_neg() } else { v }));
        }
        // Special case: -9223372036854775808 fits.
        if neg && body == b"9223372036854775808" {
            return Some(Num::Int(i64::MIN));
        }
    }
    // Decimal float: digits, optional '.', digits, optional exponent.
    let mut i = 0;
    let mut digits = 0;
    while i < body.len() && body[i].is_ascii_digit() {
        i += 1;
        digits += 1;
    }
    if i < body.len() && body[i] == b'.' {
        i += 1;
        while i < body.len() && body[i].is_ascii_digit() {
            i += 1;
            digits += 1;
        }
    }
    if digits == 0 {
        return None;
    }
    if i < body.len() && (body[i] | 0x20) == b'e' {
        i += 1;
        if i < body.len() && (body[i] == b'+' || body[i] == b'-') {
            i += 1;
        }
        let d0 = i;
        while i < body.len() && body[i].is_ascii_digit() {
            i += 1;
        }
        if i == d0 {
            return None;
        }
    }
    if i != body.len() {
        return None;
    }
    let f: f64 = std::str::from_utf8(body).ok()?.parse().ok()?;
    Some(Num::Float(if neg { -f } else { f }))
}

fn hex_digit(c: u8) -> Option<u32> {
    (c as char).to_digit(16)
}

fn parse_hex(b: &[u8], neg: bool) -> Option<Num> {
    let mut mantissa: u64 = 0;
    let mut any = false;
    let mut exp: i64 = 0;
    let mut i = 0;
    let mut is_float = false;
    let mut sig_digits = 0;
    let mut fmant: f64 = 0.0;
    while i < b.len() {
        if let Some(d) = hex_digit(b[i]) {
            mantissa = mantissa.wrapping_mul(16).wrapping_add(d as u64);
            if sig_digits < 30 {
                fmant = fmant * 16.0 + d as f64;
                if fmant != 0.0 {
                    sig_digits += 1;
                }
            } else {
                exp += 4;
            }
            any = true;
            i += 1;
        } else {
            break;
        }
    }
    if i < b.len() && b[i] == b'.' {
        is_float = true;
        i += 1;
        while i < b.len() {
            if let Some(d) = hex_digit(b[i]) {
                if sig_digits < 30 {
                    fmant = fmant * 16.0 + d as f64;
                    if fmant != 0.0 {
                        sig_digits += 1;
                    }
                    exp -= 4;
                }
                any = true;
                i += 1;
            } else {
                break;
            }
        }
    }
    if !any {
        return None;
    }
    if i < b.len() && (b[i] | 0x20) == b'p' {
        is_float = true;
        i += 1;
        let mut eneg = false;
        if i < b.len() && (b[i] == b'+' || b[i] == b'-') {
            eneg = b[i] == b'-';
            i += 1;
        }
        let d0 = i;
        let mut e: i64 = 0;
        while i < b.len() && b[i].is_ascii_digit() {
            e = (e * 10 + (b[i] - b'0') as i64).min(1 << 30);
            i += 1;
        }
        if i == d0 {
            return None;
        }
        exp += if eneg { -e } else { e };
    }
    if i != b.len() {
        return None;
    }
    if is_float {
        let f = fmant * 2f64.powi(exp.clamp(-2000, 2000) as i32);
        Some(Num::Float(if neg { -f } else { f }))
    } else {
        let v = mantissa as i64;
        Some(Num::Int(if neg { v.wrapping_neg() } else { v }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn f(x: f64) -> String {
        let mut v = Vec::new();
        fmt_float(x, &mut v);
        String::from_utf8(v).unwrap()
    }

    #[test]
    fn float_formatting_matches_lua() {
        assert_eq!(f(1e15), "1e+15");
        assert_eq!(f(1e14), "1e+14");
        assert_eq!(f(123.0), "123.0");
        assert_eq!(f(-0.0), "-0.0");
        assert_eq!(f(0.1), "0.1");
        assert_eq!(f(1.0 / 3.0), "0.33333333333333");
        assert_eq!(f(f64::INFINITY), "inf");
        assert_eq!(f(f64::NEG_INFINITY), "-inf");
        assert_eq!(f(2f64.powi(63)), "9.2233720368548e+18");
    }

    #[test]
    fn string_to_number() {
        assert_eq!(str_to_number(b" 10 "), Some(Num::Int(10)));
        assert_eq!(str_to_number(b"0x10"), Some(Num::Int(16)));
        assert_eq!(str_to_number(b"0xffffffffffffffff"), Some(Num::Int(-1)));
        assert_eq!(str_to_number(b"1e2"), Some(Num::Float(100.0)));
        assert_eq!(str_to_number(b"0x1p4"), Some(Num::Float(16.0)));
        assert_eq!(str_to_number(b".5"), Some(Num::Float(0.5)));
        assert_eq!(str_to_number(b"5."), Some(Num::Float(5.0)));
        assert_eq!(str_to_number(b"9223372036854775808"), Some(Num::Float(9223372036854775808.0)));
        assert_eq!(str_to_number(b"inf"), None);
        assert_eq!(str_to_number(b"nan"), None);
        assert_eq!(str_to_number(b"1e"), None);
        assert_eq!(str_to_number(b""), None);
        assert_eq!(str_to_number(b"0x"), None);
    }

    #[test]
    fn floor_division_and_modulo() {
        assert_eq!(int_floor_div(-10, 3), -4);
        assert_eq!(int_mod(10, -3), -2);
        assert_eq!(int_mod(-10, 3), 2);
        assert_eq!(int_floor_div(i64::MIN, -1), i64::MIN);
        assert_eq!(float_mod(-7.5, 2.0), 0.5);
    }

    #[test]
    fn mixed_comparisons_are_exact() {
        assert!(lt_int_float(i64::MAX, 9223372036854775808.0));
        assert!(!lt_float_int(9223372036854775808.0, i64::MAX));
        assert!(le_int_float((1 << 53) + 1, (1u64 << 53) as f64 + 2.0));
        assert!(!lt_int_float(1, f64::NAN));
    }
}
