# The espcap addon for node-gyp: the same sources, flags and libraries as
# CMakeLists.txt (cmake-js, the default build of `npm install`). prebuildify
# builds the prebuilt addon with this file (`npm run prebuildify`).
# libwireshark and glib come from pkg-config; wiretap has no .pc file of its
# own and libwireshark's does not list it.
{
  "targets": [
    {
      "target_name": "espcap",
      "sources": [
        "native/addon.cc",
        "native/engine_thread.cc",
        "native/epan_runtime.cc",
        "native/capture_dissector.cc",
        "native/capture_parts.cc",
        "native/frame_reader.cc",
        "native/wiretap_error.cc",
        "native/layer_writer.cc",
        "native/live_capture.cc",
        "native/flow_hash.cc",
        "native/live_binding.cc",
      ],
      "include_dirs": [
        "<!(node -p \"require('node-addon-api').include_dir\")",
        "<!@(pkg-config --cflags-only-I wireshark | sed 's/-I//g')",
      ],
      "defines": ["NAPI_VERSION=8", "NODE_ADDON_API_DISABLE_DEPRECATED"],
      "cflags_cc!": ["-fno-exceptions", "-fno-rtti", "-std=gnu++14", "-std=gnu++17"],
      "cflags_cc": ["-std=c++17", "-fexceptions", "-fvisibility=hidden", "-fvisibility-inlines-hidden", "-Wall", "-Wno-unused-parameter", "<!@(pkg-config --cflags-only-other wireshark)"],
      "libraries": ["<!@(pkg-config --libs wireshark)", "-lwiretap", "-lpcap"],
      "conditions": [
        ["OS != 'linux'", {"type": "none"}],
      ],
    }
  ]
}
