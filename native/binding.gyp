{
  "targets": [{
    "target_name": "vigil_native",
    "sources": ["src/addon.cc"],
    "include_dirs": [
      "<!@(node -p \"require('node-addon-api').include_dir\")",
      "<!@(node find-libtorch.mjs include)"
    ],
    "libraries": [
      "-L<!(node find-libtorch.mjs libdir)",
      "-Wl,-rpath,<!(node find-libtorch.mjs libdir)",
      "<!@(node find-libtorch.mjs libs)"
    ],
    "defines": [
      "NAPI_VERSION=8",
      "NAPI_CPP_EXCEPTIONS",
      "_GLIBCXX_USE_CXX11_ABI=<!(node find-libtorch.mjs abi)"
    ],
    "cflags!": ["-fno-exceptions", "-fno-rtti"],
    "cflags_cc!": ["-fno-exceptions", "-fno-rtti", "-std=gnu++17", "-std=gnu++20"],
    "cflags_cc": ["-std=<!(node find-libtorch.mjs std)", "-fexceptions", "-frtti", "-O2", "-Wno-unused-parameter", "-Wno-deprecated-declarations"]
  }]
}
