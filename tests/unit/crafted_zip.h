// Zip archives written byte by byte, as an attacker would: each entry's directory record
// declares the size it decompresses to, whatever its few bytes of data would give.
#pragma once

#include <cstdint>
#include <fstream>
#include <string>
#include <vector>

namespace wattfleet::testing {

struct CraftedEntry {
  std::string name;
  uint32_t declared_size = 0;  // what the directory says it decompresses to
};

inline void PutLe(std::string& out, uint64_t v, int bytes) {
  for (int i = 0; i < bytes; ++i) out += static_cast<char>((v >> (8 * i)) & 0xff);
}

// Deflated entries holding one empty deflate block each.
inline void WriteCraftedZip(const std::string& path, const std::vector<CraftedEntry>& entries) {
  const std::string data("\x03\x00", 2);
  std::string body, directory;
  for (const CraftedEntry& e : entries) {
    const uint64_t offset = body.size();
    PutLe(body, 0x04034b50, 4);
    PutLe(body, 20, 2);  // version needed
    PutLe(body, 0, 2);   // flags
    PutLe(body, 8, 2);   // deflate
    PutLe(body, 0, 4);   // time, date
    PutLe(body, 0, 4);   // crc
    PutLe(body, data.size(), 4);
    PutLe(body, e.declared_size, 4);
    PutLe(body, e.name.size(), 2);
    PutLe(body, 0, 2);
    body += e.name + data;
    PutLe(directory, 0x02014b50, 4);
    PutLe(directory, 20, 2);  // made by
    PutLe(directory, 20, 2);  // needed
    PutLe(directory, 0, 2);
    PutLe(directory, 8, 2);
    PutLe(directory, 0, 4);
    PutLe(directory, 0, 4);
    PutLe(directory, data.size(), 4);
    PutLe(directory, e.declared_size, 4);
    PutLe(directory, e.name.size(), 2);
    PutLe(directory, 0, 2);  // extra
    PutLe(directory, 0, 2);  // comment
    PutLe(directory, 0, 2);  // disk
    PutLe(directory, 0, 2);  // internal attributes
    PutLe(directory, 0, 4);  // external attributes
    PutLe(directory, offset, 4);
    directory += e.name;
  }
  std::string eocd;
  PutLe(eocd, 0x06054b50, 4);
  PutLe(eocd, 0, 4);
  PutLe(eocd, entries.size(), 2);
  PutLe(eocd, entries.size(), 2);
  PutLe(eocd, directory.size(), 4);
  PutLe(eocd, body.size(), 4);
  PutLe(eocd, 0, 2);
  std::ofstream(path, std::ios::binary) << body << directory << eocd;
}

}  // namespace wattfleet::testing
