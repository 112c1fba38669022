// Ctrl-C (SIGINT) and SIGTERM: the first asks the run to stop at the next step
// boundary (it checkpoints and prints the resume command); a second exits at once.
// Checkpoints are written atomically, so exiting at any moment corrupts nothing.
#pragma once

namespace cnn {

void install_stop_handlers();
bool stop_requested();
void clear_stop_request();
void request_stop(int signal);  // as if `signal` had arrived, unless one already has
int stop_signal();

// Under mpirun: Ctrl-C makes mpirun stop reading the ranks' consoles before it sends them
// SIGTERM, so a console write would block the stop (and its checkpoint) until the SIGKILL.
// From the stop signal on, console writes that would block are dropped instead (train.log
// keeps every line). Only for consoles the launcher owns: a shell's terminal left
// non-blocking would break the shell.
void release_console_on_stop();  // the signal that asked to stop (0 if none)

}  // namespace cnn
