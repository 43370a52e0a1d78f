;; A plugin that never returns: Velocity stops it when its fuel budget
;; (wasm.fuel) is spent and fails the task with
;; "plugin exceeded its fuel budget".
(module
  (memory (export "memory") 1)
  (func (export "alloc") (param i32) (result i32) (i32.const 1024))
  (func (export "transform") (param i32 i32) (result i64)
    (loop $forever (br $forever))
    (i64.const -1)))
