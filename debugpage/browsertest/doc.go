// Package browsertest tests the debug page (package debugpage) in a real
// browser: headless Chromium, driven through the DevTools protocol with
// github.com/chromedp/chromedp, against the chat example serving the page
// on 127.0.0.1 (go run ./examples/chat -debug 127.0.0.1:0). It is a module
// of its own so that the core module does not depend on chromedp.
//
// The test needs the chromium command (Debian's chromium package), which
// scripts/test-all.sh installs when it runs as root (see the test-servers
// file). It saves a screenshot of the page to the artifacts directory
// (EVENTBUS_ARTIFACTS, or artifacts/ in this directory).
package browsertest
