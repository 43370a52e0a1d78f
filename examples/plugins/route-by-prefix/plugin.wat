;; route-by-prefix: a Velocity wasm plugin written in WebAssembly text.
;; Routes every record to "plugin.<topic>" and drops records whose topic
;; starts with "drop". It relies on the host writing "topic" as the first
;; key: the input always begins with {"topic":" (10 bytes).
;; ABI: see README.md beside this file.
(module
  (memory (export "memory") 1)
  ;; the output prefix, 17 bytes: {"topic":"plugin.
  (data (i32.const 0) "{\"topic\":\"plugin.")
  (global $heap (mut i32) (i32.const 1024))

  ;; Makes sure memory reaches `end` (exclusive); traps when it cannot.
  (func $reserve (param $end i32)
    (local $need i32)
    (local.set $need
      (i32.sub
        (i32.shr_u (i32.add (local.get $end) (i32.const 65535)) (i32.const 16))
        (memory.size)))
    (if (i32.gt_s (local.get $need) (i32.const 0))
      (then
        (if (i32.eq (memory.grow (local.get $need)) (i32.const -1))
          (then unreachable)))))

  ;; Bump allocator; each call starts over: the host no longer needs
  ;; earlier buffers when it calls alloc again.
  (func (export "alloc") (param $len i32) (result i32)
    (global.set $heap (i32.const 1024))
    (call $reserve (i32.add (global.get $heap) (local.get $len)))
    (global.set $heap (i32.add (global.get $heap) (local.get $len)))
    (i32.const 1024))

  (func (export "transform") (param $ptr i32) (param $len i32) (result i64)
    (local $out i32)
    (local $out_len i32)
    ;; drop records whose topic starts with "drop" ("drop" = 0x706f7264 little-endian)
    (if (i32.ge_u (local.get $len) (i32.const 14))
      (then
        (if (i32.eq (i32.load (i32.add (local.get $ptr) (i32.const 10))) (i32.const 0x706f7264))
          (then (return (i64.const -1))))))
    ;; output = prefix (17 bytes) + input after its first 10 bytes
    (local.set $out (global.get $heap))
    (local.set $out_len (i32.add (local.get $len) (i32.const 7)))
    (call $reserve (i32.add (local.get $out) (local.get $out_len)))
    (memory.copy (local.get $out) (i32.const 0) (i32.const 17))
    (memory.copy
      (i32.add (local.get $out) (i32.const 17))
      (i32.add (local.get $ptr) (i32.const 10))
      (i32.sub (local.get $len) (i32.const 10)))
    (global.set $heap (i32.add (local.get $out) (local.get $out_len)))
    (i64.or
      (i64.shl (i64.extend_i32_u (local.get $out)) (i64.const 32))
      (i64.extend_i32_u (local.get $out_len)))))
