// `cnnlab runs migrate [--store URL]` (upgrade a store to this cnnlab's schema version) and
// `cnnlab runs sync RUN_DIR [--store URL]` (push the records a run spooled while its server
// was away; idempotent, as every record is an upsert).
#pragma once

#include <string>

namespace CLI {
class App;
}

namespace cnn {

int run_migrate(const std::string& url);
int run_sync(const std::string& run_dir, const std::string& url);

// Registers `migrate` and `sync` under the `runs` command group.
void add_store_maintenance_commands(CLI::App& runs);

}  // namespace cnn
