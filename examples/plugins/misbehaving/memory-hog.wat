;; A plugin that allocates without bound: growing past
;; wasm.memory.max.bytes fails the task with
;; "plugin exceeded its memory limit".
(module
  (memory (export "memory") 1)
  (func (export "alloc") (param i32) (result i32) (i32.const 1024))
  (func (export "transform") (param i32 i32) (result i64)
    (loop $more
      (drop (memory.grow (i32.const 16)))
      (br $more))
    (i64.const -1)))
