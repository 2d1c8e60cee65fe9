//! Owning the terminal: raw mode and the alternate screen on the way in,
//! restored on the way out, on error (drop) and on panic (a hook); and the
//! keyboard, read on a thread of its own into the message channel.

use std::io::{self, Stdout, stdout};
use std::sync::Arc;
use std::sync::Once;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::JoinHandle;
use std::time::Duration;

use ratatui::Terminal;
use ratatui::backend::CrosstermBackend;
use ratatui::crossterm::cursor::{Hide, Show};
use ratatui::crossterm::event::{self, Event};
use ratatui::crossterm::execute;
use ratatui::crossterm::terminal::{
    EnterAlternateScreen, LeaveAlternateScreen, disable_raw_mode, enable_raw_mode,
};
use tokio::sync::mpsc::UnboundedSender;

use crate::app::Msg;

/// Whether the control room holds the terminal (the panic hook restores
/// only then).
static ACTIVE: AtomicBool = AtomicBool::new(false);
static HOOK: Once = Once::new();

/// The terminal while the control room owns it; dropping it restores it.
pub struct Tui {
    pub terminal: Terminal<CrosstermBackend<Stdout>>,
}

impl Tui {
    pub fn enter() -> io::Result<Self> {
        install_panic_hook();
        enable_raw_mode()?;
        ACTIVE.store(true, Ordering::SeqCst);
        let setup = execute!(stdout(), EnterAlternateScreen, Hide)
            .and_then(|()| Terminal::new(CrosstermBackend::new(stdout())));
        match setup {
            Ok(mut terminal) => {
                // Once, on entry: from here on only changed cells are written.
                terminal.clear()?;
                Ok(Self { terminal })
            }
            Err(e) => {
                restore().ok();
                Err(e)
            }
        }
    }

    /// Give the terminal back, reporting failure (the drop that follows
    /// finds nothing left to do).
    pub fn leave(self) -> io::Result<()> {
        restore()
    }
}

impl Drop for Tui {
    fn drop(&mut self) {
        restore().ok();
    }
}

/// False once the terminal was given back (e.g. by the panic hook when a
/// background task panicked): drawing must stop.
pub fn active() -> bool {
    ACTIVE.load(Ordering::SeqCst)
}

fn restore() -> io::Result<()> {
    if !ACTIVE.swap(false, Ordering::SeqCst) {
        return Ok(());
    }
    // Raw mode first: it matters most for the shell left behind.
    let raw = disable_raw_mode();
    execute!(stdout(), LeaveAlternateScreen, Show)?;
    raw
}

/// Restore the terminal before the panic message is printed, so it is
/// readable and the shell works.
fn install_panic_hook() {
    HOOK.call_once(|| {
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            restore().ok();
            previous(info);
        }));
    });
}

/// The keyboard and resize events, read on a thread (crossterm's reads
/// block) and sent as messages. Dropping it stops the thread.
pub struct Input {
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl Input {
    pub fn spawn(tx: UnboundedSender<Msg>) -> io::Result<Self> {
        let stop = Arc::new(AtomicBool::new(false));
        let flag = stop.clone();
        let thread = std::thread::Builder::new()
            .name("vivid-tui-input".into())
            .spawn(move || read_input(&tx, &flag))?;
        Ok(Self {
            stop,
            thread: Some(thread),
        })
    }
}

fn read_input(tx: &UnboundedSender<Msg>, stop: &AtomicBool) {
    // Poll with a timeout so the thread notices `stop` promptly.
    while !stop.load(Ordering::Relaxed) {
        let msg = match event::poll(Duration::from_millis(100)) {
            Ok(false) => continue,
            Ok(true) => match event::read() {
                Ok(Event::Key(key)) => Msg::Key(key),
                Ok(Event::Resize(w, h)) => Msg::Resize(w, h),
                Ok(_) => continue,
                Err(e) => Msg::InputLost(e.to_string()),
            },
            Err(e) => Msg::InputLost(e.to_string()),
        };
        let lost = matches!(msg, Msg::InputLost(_));
        if tx.send(msg).is_err() || lost {
            return;
        }
    }
}

impl Drop for Input {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            t.join().ok();
        }
    }
}
