// Image folders in torchvision's ImageFolder layout: root/<class>/<image>, classes sorted
// by name. PNG, JPEG and BMP files are decoded with stb_image to RGB, resized to the
// configured size when they differ, and stored like CIFAR-10 (uint8 N x 3 x H x W).
#pragma once

#include <string>
#include <vector>

#include "data/dataset.h"

namespace cnn {

struct ImageFolderOptions {
  int64_t height = 32;
  int64_t width = 32;
  bool skip_bad_images = false;  // warn and skip an unreadable image instead of failing
  int64_t limit = 0;             // keep the first `limit` images (in folder order; 0 = all)
  // When not empty, labels follow this class list (a test split uses the training split's
  // classes); a folder whose name is not in it is an error.
  std::vector<std::string> classes;
};

// Whether stb_image decodes this file for us, by extension (case-insensitive).
bool is_image_file(const std::string& path);

ImageDataset load_image_folder(const std::string& root, const ImageFolderOptions& options = {});

}  // namespace cnn
