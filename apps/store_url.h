// The run store's URL: which database `--store URL` (or CNNLAB_STORE) names, and how it is
// logged. Two backends:
//   sqlite:runs/runs.db   or a bare path (runs/runs.db); "sqlite3://db=PATH timeout=S" too
//   mysql://USER@HOST[:PORT]/DB[?socket=/path/to/mysqld.sock]   MySQL, MariaDB, TiDB (4000)
// A password never comes from the URL (it would reach shell history and logs): it is read
// from CNNLAB_STORE_PASSWORD, else from the [client] section of ~/.my.cnf (MYSQL_HOME's or
// $HOME's), as the mysql client does.
#pragma once

#include <string>

namespace cnn {

enum class StoreBackend { sqlite, mysql };

struct StoreUrl {
  StoreBackend backend = StoreBackend::sqlite;
  std::string sqlite_path;                   // sqlite: the file (":memory:" allowed)
  int sqlite_timeout_s = 30;                 // sqlite: busy timeout
  std::string user, host, database, socket;  // mysql
  int port = 3306;                           // mysql
  std::string password;  // mysql: from the environment or option file; never logged
};

// Parses `url`; an error is a sentence naming the URL (without a password) and the fix.
StoreUrl parse_store_url(const std::string& url);

// The URL as logs and error messages print it: never a password.
std::string describe_store_url(const StoreUrl& url);

// What SOCI's backend parses ("db=... timeout=..." or "host=... user=... password=...").
std::string soci_parameters(const StoreUrl& url);

// The store a command uses: --store if given, else CNNLAB_STORE, else `fallback`.
std::string choose_store_url(const std::string& option, const std::string& fallback);

}  // namespace cnn
