//! A small decimal number type matching CUE's (apd) arithmetic for the values configs use.

use std::cmp::Ordering;

/// Significant digits kept by division (CUE v0.4 uses 24 for `/`).
const DIV_DIGITS: u32 = 24;

/// `mant × 10^exp`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Decimal {
    pub mant: i128,
    pub exp: i32,
}

fn pow10(n: u32) -> Option<i128> {
    10i128.checked_pow(n)
}

fn digits(mut v: i128) -> u32 {
    let mut n = 1;
    v = v.abs();
    while v >= 10 {
        v /= 10;
        n += 1;
    }
    n
}

impl Decimal {
    pub fn new(mant: i128, exp: i32) -> Self {
        Decimal { mant, exp }
    }

    pub fn from_int(i: i128) -> Self {
        Decimal { mant: i, exp: 0 }
    }

    pub fn parse(s: &str) -> Option<Self> {
        let s = s.trim();
        let (num, e) = match s.find(['e', 'E']) {
            Some(i) => (&s[..i], s[i + 1..].parse::<i32>().ok()?),
            None => (s, 0),
        };
        let neg = num.starts_with('-');
        let num = num.trim_start_matches(['-', '+']);
        let (ip, fp) = match num.find('.') {
            Some(i) => (&num[..i], &num[i + 1..]),
            None => (num, ""),
        };
        let mut mant: i128 = 0;
        for c in ip.chars().chain(fp.chars()) {
            let d = c.to_digit(10)?;
            mant = mant.checked_mul(10)?.checked_add(d as i128)?;
        }
        let exp = e.checked_sub(i32::try_from(fp.len()).ok()?)?;
        Some(Decimal { mant: if neg { -mant } else { mant }, exp })
    }

    pub fn from_f64(f: f64) -> Option<Self> {
        if !f.is_finite() {
            return None;
        }
        Self::parse(&format!("{f:?}")).or_else(|| Self::parse(&format!("{f:e}")))
    }

    pub fn to_f64(self) -> f64 {
        format!("{}e{}", self.mant, self.exp).parse().unwrap_or(f64::NAN)
    }

    /// Aligns both to the smaller exponent.
    fn align(a: Self, b: Self) -> Option<(i128, i128, i32)> {
        match a.exp.cmp(&b.exp) {
            Ordering::Equal => Some((a.mant, b.mant, a.exp)),
            Ordering::Less => {
                let d = u32::try_from(b.exp - a.exp).ok()?;
                Some((a.mant, b.mant.checked_mul(pow10(d)?)?, a.exp))
            }
            Ordering::Greater => {
                let d = u32::try_from(a.exp - b.exp).ok()?;
                Some((a.mant.checked_mul(pow10(d)?)?, b.mant, b.exp))
            }
        }
    }

    pub fn add(self, o: Self) -> Option<Self> {
        let (a, b, e) = Self::align(self, o)?;
        Some(Decimal::new(a.checked_add(b)?, e))
    }

    pub fn sub(self, o: Self) -> Option<Self> {
        let (a, b, e) = Self::align(self, o)?;
        Some(Decimal::new(a.checked_sub(b)?, e))
    }

    pub fn mul(self, o: Self) -> Option<Self> {
        Some(Decimal::new(self.mant.checked_mul(o.mant)?, self.exp.checked_add(o.exp)?))
    }

    pub fn neg(self) -> Self {
        Decimal::new(-self.mant, self.exp)
    }

    pub fn is_zero(self) -> bool {
        self.mant == 0
    }

    /// Division with CUE's precision; None on division by zero or overflow.
    pub fn div(self, o: Self) -> Option<Self> {
        self.div_rounding(o, true)
    }

    /// Division to [`DIV_DIGITS`] significant digits, the last one rounded half to even
    /// (`/`) or half away from zero (`math.Pow`'s context).
    fn div_rounding(self, o: Self, half_even: bool) -> Option<Self> {
        if o.mant == 0 {
            return None;
        }
        let neg = (self.mant < 0) != (o.mant < 0);
        let a = self.mant.checked_abs()?;
        let b = o.mant.checked_abs()?;
        let ideal = self.exp.checked_sub(o.exp)?;
        let mut q = a / b;
        let mut r = a % b;
        let mut exp = ideal;
        // generate digits until DIV_DIGITS significant digits or exact
        while r != 0 && (q == 0 || digits(q) < DIV_DIGITS) {
            q = q.checked_mul(10)?;
            r = r.checked_mul(10)?;
            q += r / b;
            r %= b;
            exp -= 1;
        }
        if r != 0 {
            // round half even
            let twice = r.checked_mul(2)?;
            if twice > b || (twice == b && (!half_even || q % 2 == 1)) {
                q += 1;
            }
        } else {
            while exp < ideal && q % 10 == 0 && q != 0 {
                q /= 10;
                exp += 1;
            }
        }
        // reduce to DIV_DIGITS
        while digits(q) > DIV_DIGITS && q % 10 == 0 {
            q /= 10;
            exp += 1;
        }
        Some(Decimal::new(if neg { -q } else { q }, exp))
    }

    /// `self` to the integer power `n`, as `math.Pow` computes it in CUE v0.4 (apd with 24
    /// significant digits, half away from zero): the exact power, its coefficient rounded to
    /// [`DIV_DIGITS`] digits when longer (`2^80` is `1.20892581961462917470618E+24`), and for
    /// a negative `n` the quotient `1 / self^-n` of the exact power, rounded the same way. The exponent is not reduced: `2.0^3` is
    /// `8.000`. None when the exact power overflows (the caller falls back to binary floating
    /// point) or for zero to a power that is not positive.
    pub fn powi(self, n: i128) -> Option<Self> {
        if self.mant == 0 {
            return (n > 0).then_some(Decimal::new(0, 0));
        }
        let k = u32::try_from(n.unsigned_abs()).ok()?;
        let mant = self.mant.checked_pow(k)?;
        let exp = self.exp.checked_mul(i32::try_from(k).ok()?)?;
        let p = Decimal::new(mant, exp);
        if n >= 0 { p.round_digits(DIV_DIGITS) } else { Decimal::from_int(1).div_rounding(p, false) }
    }

    /// The coefficient rounded (half away from zero) to at most `max` significant digits.
    fn round_digits(self, max: u32) -> Option<Self> {
        let n = digits(self.mant);
        if n <= max {
            return Some(self);
        }
        let cut = pow10(n - max)?;
        let (q, r) = (self.mant / cut, (self.mant % cut).abs());
        let up = r.checked_mul(2)? >= cut;
        let q = if up { q + self.mant.signum() } else { q };
        let exp = self.exp.checked_add(i32::try_from(n - max).ok()?)?;
        // a carry to one more digit (999.. rounded up) is one more exponent step
        if digits(q) > max { Some(Decimal::new(q / 10, exp.checked_add(1)?)) } else { Some(Decimal::new(q, exp)) }
    }

    pub fn cmp(self, o: Self) -> Ordering {
        match Self::align(self, o) {
            Some((a, b, _)) => a.cmp(&b),
            None => self.to_f64().partial_cmp(&o.to_f64()).unwrap_or(Ordering::Equal),
        }
    }

    /// Integer value if integral.
    pub fn to_int(self) -> Option<i128> {
        if self.exp >= 0 {
            self.mant.checked_mul(pow10(u32::try_from(self.exp).ok()?)?)
        } else {
            let p = pow10(u32::try_from(-self.exp).ok()?)?;
            if self.mant % p == 0 { Some(self.mant / p) } else { None }
        }
    }

    /// apd-style text (`1.50`, `1E+3`, `1E-7`), with `.0` appended to integral values
    /// printed without a point (modern CUE float rendering).
    pub fn to_cue_string(self) -> String {
        let neg = self.mant < 0;
        let coeff = self.mant.unsigned_abs().to_string();
        let n = coeff.len() as i64;
        let exp = self.exp as i64;
        let adj = exp + n - 1;
        let mut s = if exp <= 0 && adj >= -6 {
            if exp == 0 {
                coeff
            } else {
                let e = (-exp) as usize;
                if coeff.len() > e {
                    format!("{}.{}", &coeff[..coeff.len() - e], &coeff[coeff.len() - e..])
                } else {
                    format!("0.{}{}", "0".repeat(e - coeff.len()), coeff)
                }
            }
        } else {
            let mut m = coeff[..1].to_string();
            if coeff.len() > 1 {
                m.push('.');
                m.push_str(&coeff[1..]);
            }
            format!("{m}E{}{adj}", if adj >= 0 { "+" } else { "" })
        };
        if !s.contains('.') && !s.contains('E') {
            s.push_str(".0");
        }
        if neg && self.mant != 0 {
            s.insert(0, '-');
        }
        s
    }
}
