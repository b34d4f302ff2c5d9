// SPDX-License-Identifier: MIT

// Package usage counts the data each uplink of the mobile router carries,
// per local calendar day and per month, against the uplink's data caps,
// and keeps the counts across restarts in a small JSON file (in
// configs' router.state_dir).
//
// It sits beside the data plane: the per-path loops call [Meter.Add] for
// every batch they send or receive (one atomic add: no lock, no
// allocation), the scheduler or policy reads [Meter.Exceeded] (one atomic
// load), and the daemon's control loop calls [Store.Tick] about every
// 250 ms, which rolls the day and month windows over (at local midnight;
// monthly on the cap's ResetDay), recomputes Exceeded, and returns the
// uplinks whose Exceeded changed so that their paths can be demoted within
// a second of reaching a cap. The daemon calls [Store.Save] now and then
// (say every minute) and at shutdown; Save writes only if something
// changed, atomically (temporary file, fsync, rename), mode 0600.
//
// # File
//
// The file is JSON:
//
//	{
//	  "version": 1,
//	  "uplinks": [
//	    {"name": "cell", "day_start": "2025-11-23T00:00:00+01:00",
//	     "month_start": "2025-11-15T00:00:00+01:00",
//	     "bytes_today": 123456, "bytes_month": 9876543}
//	  ]
//	}
//
// A window whose start is older than the current window's is over: a
// router that restarts on the next day starts the day at zero but keeps
// the month. A window whose start lies in the future (the clock went
// back) is kept until the clock passes it. Records of uplinks that no
// Meter claims are kept until their month is over. A file that does not
// parse as this format (corrupt, truncated, another program's, a future
// version) is renamed aside to FILE.corrupt with a warning, and counting
// starts from zero: it never stops the router.
//
// # Concurrency
//
// Every method is safe for concurrent use. A Store has no goroutine and
// no timer: the caller owns the clock (Options.Now) and calls Tick and
// Save. Add, Exceeded and Usage may be called on a nil *Meter (an uplink
// that is not metered).
//
// # Metrics
//
// [Stats]: usage_saves_total, usage_save_errors_total,
// usage_rollovers_total, usage_cap_changes_total,
// usage_corrupt_files_total.
//
// The package imports only the standard library.
package usage
