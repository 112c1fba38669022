// Includes stb_image and stb_image_resize from wherever the system keeps them: Debian puts
// them in /usr/include/stb/, which is not always on the include path itself.
#pragma once

#if __has_include(<stb_image.h>)
#include <stb_image.h>
#include <stb_image_resize.h>
#else
#include <stb/stb_image.h>
#include <stb/stb_image_resize.h>
#endif
