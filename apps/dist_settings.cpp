// The `dist:` section of a config (dist_settings.h).
#include "apps/dist_settings.h"

#include <yaml-cpp/yaml.h>

#include "core/config_reader.h"
#include "core/error.h"

namespace cnn {

const std::vector<KeySpec>& dist_keys() {
  static const DistSettings defaults;
  static const std::vector<KeySpec> keys{
      {"bucket_kb", default_text(defaults.bucket_kb),
       "gradient kilobytes per allreduce in a data-parallel run (mpirun)"},
      {"overlap", default_text(defaults.overlap),
       "how gradient buckets are allreduced during the backward: thread (blocking allreduces "
       "on a communication thread), iallreduce (MPI_Iallreduce, tested between layers), auto "
       "(thread when the node has a core to spare for it, else iallreduce) or none (all after "
       "the backward; also false)"}};
  return keys;
}

DistSettings dist_settings(const Config& config) {
  YAML::Node section;  // absent: every default
  if (config.root["dist"]) section = config.root["dist"];
  CNN_CHECK(!section.IsDefined() || section.IsNull() || section.IsMap(), "dist: expected a mapping");
  const ConfigReader reader(section, "dist", dist_keys());
  reader.check_known_keys("dist");
  DistSettings s;
  s.bucket_kb = reader.get_int("bucket_kb");
  s.overlap =
      reader.get_choice("overlap", {"auto", "thread", "iallreduce", "none", "true", "false"});
  if (s.overlap == "true") s.overlap = "auto";  // the key's earlier boolean form
  if (s.overlap == "false") s.overlap = "none";
  reader.check("bucket_kb", s.bucket_kb >= 1, "expected at least 1, found ", s.bucket_kb);
  return s;
}

}  // namespace cnn
