//! Civil dates as day numbers, so event dates are drawn with integer arithmetic only.

/// The first year an event date may fall in.
pub const FIRST_YEAR: u16 = 1995;
/// The last year an event date may fall in.
pub const LAST_YEAR: u16 = 2025;

/// Days since 1970-01-01 of the first day of `year` (proleptic Gregorian).
pub fn first_day_of(year: u16) -> i32 {
    days_from_civil(i32::from(year), 1, 1)
}

/// Days since 1970-01-01 of the last day of `year`.
pub fn last_day_of(year: u16) -> i32 {
    days_from_civil(i32::from(year), 12, 31)
}

/// Howard Hinnant's `days_from_civil`.
fn days_from_civil(year: i32, month: u32, day: u32) -> i32 {
    let year = if month <= 2 { year - 1 } else { year };
    let era = year.div_euclid(400);
    let year_of_era = year - era * 400;
    let month_from_march = (month + 9) % 12;
    let day_of_year = (153 * month_from_march + 2) / 5 + day - 1;
    let day_of_era = year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year as i32;
    era * 146_097 + day_of_era - 719_468
}

/// The (year, month, day) of a day number; Howard Hinnant's `civil_from_days`.
pub fn civil_from_days(days: i32) -> (u16, u8, u8) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let day_of_era = z - era * 146_097;
    let year_of_era =
        (day_of_era - day_of_era / 1460 + day_of_era / 36_524 - day_of_era / 146_096) / 365;
    let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
    let month_from_march = (5 * day_of_year + 2) / 153;
    let day = day_of_year - (153 * month_from_march + 2) / 5 + 1;
    let month = if month_from_march < 10 {
        month_from_march + 3
    } else {
        month_from_march - 9
    };
    let year = year_of_era + era * 400 + i32::from(month <= 2);
    (year as u16, month as u8, day as u8)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn known_dates_have_known_day_numbers() {
        assert_eq!(first_day_of(1970), 0);
        assert_eq!(civil_from_days(0), (1970, 1, 1));
        assert_eq!(civil_from_days(first_day_of(2000) + 59), (2000, 2, 29));
        assert_eq!(civil_from_days(last_day_of(2025)), (2025, 12, 31));
    }

    proptest! {
        #[test]
        fn day_numbers_round_trip(days in first_day_of(1800)..last_day_of(2100)) {
            let (year, month, day) = civil_from_days(days);
            prop_assert_eq!(days_from_civil(i32::from(year), u32::from(month), u32::from(day)), days);
        }
    }
}
