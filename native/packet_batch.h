// A batch of dissected packets, handed to JavaScript in one crossing.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

struct PacketBatch {
  // Per packet, five ASCII spans back to back in `text`:
  //   timestamp   ISO-8601 UTC with nanoseconds
  //   head        the document up to its layers: {"@timestamp":..., "layers":
  //   layers      the layers object
  //   tail        ,"protocol":..., the ECS fields, } and a newline
  //   protocol    the highest protocol
  // so head..tail is the whole NDJSON line of the packet's document.
  std::string text;
  // kSpansPerPacket offsets per packet plus a final end offset.
  std::vector<uint32_t> offsets;
  // kMetaPerPacket numbers per packet, see the Meta enum.
  std::vector<double> meta;
  uint32_t count = 0;
  // Fields written for the first time in this batch (LayerWriter::take_new_fields).
  std::string new_fields;

  static constexpr int kSpansPerPacket = 5;
  enum Meta { kFrameNumber, kSeconds, kNanoseconds, kCapturedLength, kOriginalLength, kInterfaceId, kMetaPerPacket };

};
