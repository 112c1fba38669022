// Ctrl-C (SIGINT) and SIGTERM: the first asks the run to stop at the next step
// boundary (it checkpoints and prints the resume command); a second exits at once.
// Checkpoints are written atomically, so exiting at any moment corrupts nothing.
#pragma once

namespace cnn {

void install_stop_handlers();
bool stop_requested();
void clear_stop_request();
int stop_signal();  // the signal that asked to stop (0 if none)

}  // namespace cnn
