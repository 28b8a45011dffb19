//! The built book in a real browser, at the width a reader's laptop gives it: headless Chromium,
//! 1 280 px wide. Every page must show its code blocks and tables without a sideways scroll bar
//! (folded listings opened), load every image, and every picture must keep its text inside its
//! frame. A check of the HTML alone cannot see any of this: it depends on the fonts, the theme's
//! column width and the browser's layout.
//!
//! Needs Chromium (`chromium`, `chromium-browser` or `google-chrome` on `PATH`, or `CHROMIUM`
//! naming it) and mdbook. Without them the test says loudly that it was skipped, and fails
//! instead when `CI` is set: `.ci/run` installs both.

use std::path::{Path, PathBuf};
use std::time::Duration;

use headless_chrome::{Browser, LaunchOptions, Tab};
use test_support::BuiltBook;

/// The window a reader's laptop gives the book.
const WINDOW: (u32, u32) = (1280, 900);

/// Runs in each page: opens every folded section, waits for the fonts and images, then lists
/// what a reader would have to scroll sideways to read, and what did not load. Answers a JSON
/// list of problems, as text (the one kind of value the protocol library hands back whole).
const PAGE_CHECK: &str = r#"
(async () => {
  for (const folded of document.querySelectorAll('details')) folded.open = true;
  await document.fonts.ready;
  const images = [...document.images];
  await Promise.all(images.filter(image => !image.complete).map(image =>
    new Promise(done => { image.onload = done; image.onerror = done; })));
  const problems = [];
  for (const face of document.fonts) {
    if (face.status === 'error') problems.push(`the font ${face.family} did not load`);
  }
  for (const image of images) {
    if (image.naturalWidth === 0) problems.push(`the image ${image.getAttribute('src')} did not load`);
  }
  // A pixel of slack for sub-pixel rounding.
  const scrolls = element => element.scrollWidth > element.clientWidth + 1;
  for (const code of document.querySelectorAll('pre > code')) {
    if (scrolls(code) || scrolls(code.parentElement)) {
      const line = code.textContent.split('\n').reduce((a, b) => (b.length > a.length ? b : a), '');
      problems.push(`a code block scrolls sideways; its longest line: ${line.trim().slice(0, 80)}`);
    }
  }
  for (const table of document.querySelectorAll('table')) {
    const frame = table.closest('.table-wrapper') || table;
    if (scrolls(frame) || table.offsetWidth > frame.clientWidth + 1) {
      const head = table.rows[0] ? table.rows[0].textContent.trim().replace(/\s+/g, ' ') : '';
      problems.push(`a table scrolls sideways: ${head.slice(0, 80)}`);
    }
  }
  return JSON.stringify(problems);
})()
"#;

/// Runs in a picture opened on its own: lists the texts that stick out of its frame.
const PICTURE_CHECK: &str = r#"
(() => {
  const frame = document.documentElement.getBoundingClientRect();
  const problems = [];
  for (const text of document.querySelectorAll('text')) {
    const box = text.getBoundingClientRect();
    if (box.width === 0) continue;
    if (box.left < frame.left - 1 || box.top < frame.top - 1 ||
        box.right > frame.right + 1 || box.bottom > frame.bottom + 1) {
      problems.push(`the text "${text.textContent.trim().slice(0, 60)}" runs outside the picture`);
    }
  }
  return JSON.stringify(problems);
})()
"#;

/// The Chromium to drive, if this machine has one.
fn chromium() -> Option<PathBuf> {
    if let Some(named) = std::env::var_os("CHROMIUM") {
        return Some(PathBuf::from(named));
    }
    let path = std::env::var_os("PATH").unwrap_or_default();
    ["chromium", "chromium-browser", "google-chrome"]
        .iter()
        .flat_map(|name| std::env::split_paths(&path).map(move |dir| dir.join(name)))
        .find(|candidate| candidate.is_file())
}

/// Opens `file` in `tab`, runs `script` there, and returns the problems it listed.
fn problems_in(tab: &Tab, file: &Path, script: &str) -> Vec<String> {
    let url = format!("file://{}", file.display());
    tab.navigate_to(&url)
        .and_then(|tab| tab.wait_until_navigated())
        .unwrap_or_else(|error| panic!("{url}: {error}"));
    let answer = tab
        .evaluate(script, true)
        .unwrap_or_else(|error| panic!("{url}: the check did not run: {error}"));
    let Some(serde_json::Value::String(json)) = answer.value else {
        panic!("{url}: the check failed: {:?}", answer.description);
    };
    serde_json::from_str(&json).unwrap_or_else(|error| panic!("{url}: {error}: {json}"))
}

#[test]
fn every_page_reads_without_scrolling_sideways_and_every_picture_keeps_its_text_inside() {
    let Some(chromium) = chromium() else {
        assert!(
            std::env::var_os("CI").is_none(),
            "Chromium is not installed and CI is set: install it (apt-get install chromium)"
        );
        eprintln!("\n*** SKIPPED the browser test: no Chromium on PATH (set CHROMIUM) ***\n");
        return;
    };
    let Some(book) = BuiltBook::build("browser") else {
        return;
    };
    let options = LaunchOptions::default_builder()
        .path(Some(chromium))
        .window_size(Some(WINDOW))
        // Tests often run as root in a container, where Chromium's sandbox cannot start.
        .sandbox(false)
        .idle_browser_timeout(Duration::from_secs(300))
        .build()
        .expect("launch options");
    let browser = Browser::new(options).expect("Chromium starts");
    let tab = browser.new_tab().expect("a tab");

    let mut problems = Vec::new();
    let mut checked = 0;
    for (files, script) in [(book.pages(), PAGE_CHECK), (book.pictures(), PICTURE_CHECK)] {
        for file in files {
            let shown = file
                .strip_prefix(&book.dir)
                .unwrap_or(&file)
                .display()
                .to_string();
            problems.extend(
                problems_in(&tab, &file, script)
                    .into_iter()
                    .map(|problem| format!("{shown}: {problem}")),
            );
            checked += 1;
        }
    }
    assert!(checked > 20, "only {checked} pages and pictures found");
    assert!(
        problems.is_empty(),
        "what a reader would see at {} px:\n{}",
        WINDOW.0,
        problems.join("\n")
    );
}
