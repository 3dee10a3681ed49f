//! Structured control flow: `Block`, `Loop`, `If` (all three are branch
//! labels, wasm style), `Br`, `BrIf`, `BrTable`.
//!
//! A label's target is the end of a `Block`/`If` (values branched there
//! meet in a phi) or the head of a `Loop` (where one step of fuel is
//! spent). Ops after an unconditional branch are dead and not emitted.

use inkwell::types::BasicTypeEnum;
use inkwell::values::BasicValueEnum;
use relon_ir::ir::{IrType, TaggedOp};

use super::CodegenError;
use super::func::{Flow, FuncEmitter, Label, LabelKind};

impl<'m, 'ctx, 'ir> FuncEmitter<'m, 'ctx, 'ir> {
    pub(crate) fn emit_block(
        &mut self,
        result: Option<IrType>,
        body: &[TaggedOp],
    ) -> Result<Flow, CodegenError> {
        let end = self.m.ctx.append_basic_block(self.function, "block_end");
        let result = result.map(|t| self.m.llvm_type(t));
        self.enter_label(LabelKind::Exit, end, result);
        let flow = self.emit_nested_body(body, false)?;
        self.fall_through_to_label(flow)?;
        self.leave_exit_label(end)
    }

    pub(crate) fn emit_loop(
        &mut self,
        result: Option<IrType>,
        body: &[TaggedOp],
    ) -> Result<Flow, CodegenError> {
        if result.is_some() {
            return Err(self.malformed("a Loop that yields a value".into()));
        }
        if let Some(counted) = self.counted.loop_of(body).cloned() {
            self.check_sweeps(&counted)?;
        }
        let head = self.m.ctx.append_basic_block(self.function, "loop_head");
        self.m.builder.build_unconditional_branch(head)?;
        self.m.builder.position_at_end(head);
        if self.m.metered {
            self.consume_fuel()?;
        }
        self.enter_label(LabelKind::LoopHead, head, None);
        let flow = self.emit_nested_body(body, false)?;
        let label = self
            .labels
            .pop()
            .ok_or_else(|| self.malformed("label stack underflow".into()))?;
        self.stack.truncate(label.stack_base);
        // Falling off the end of a loop body leaves the loop.
        Ok(flow)
    }

    pub(crate) fn emit_if(
        &mut self,
        result: IrType,
        then_body: &[TaggedOp],
        else_body: &[TaggedOp],
    ) -> Result<Flow, CodegenError> {
        let cond = self.pop_condition()?;
        // The arms of an `If` in tail position are in tail position too.
        let tail = self.op_in_tail;
        let ctx = self.m.ctx;
        let then_bb = ctx.append_basic_block(self.function, "then");
        let else_bb = ctx.append_basic_block(self.function, "else");
        let end = ctx.append_basic_block(self.function, "if_end");
        self.m
            .builder
            .build_conditional_branch(cond, then_bb, else_bb)?;
        let result_ty = Some(self.m.llvm_type(result));
        self.enter_label(LabelKind::Exit, end, result_ty);
        self.m.builder.position_at_end(then_bb);
        let flow = self.emit_nested_body(then_body, tail)?;
        self.fall_through_to_label(flow)?;
        let base = self.labels.last().map_or(0, |l| l.stack_base);
        self.stack.truncate(base);
        self.m.builder.position_at_end(else_bb);
        let flow = self.emit_nested_body(else_body, tail)?;
        self.fall_through_to_label(flow)?;
        self.leave_exit_label(end)
    }

    pub(crate) fn emit_br(&mut self, depth: u32) -> Result<Flow, CodegenError> {
        self.branch_to_label(depth)?;
        Ok(Flow::Terminated)
    }

    pub(crate) fn emit_br_if(&mut self, depth: u32) -> Result<(), CodegenError> {
        let cond = self.pop_condition()?;
        let cont = self.m.ctx.append_basic_block(self.function, "br_if_cont");
        let index = self.label_index(depth)?;
        let target = self.labels[index].target;
        self.add_incoming(index, false)?;
        self.m
            .builder
            .build_conditional_branch(cond, target, cont)?;
        self.m.builder.position_at_end(cont);
        Ok(())
    }

    pub(crate) fn emit_br_table(
        &mut self,
        default: u32,
        targets: &[u32],
    ) -> Result<Flow, CodegenError> {
        let index = self.pop_int()?;
        let index = self.to_i32(index)?;
        let default_label = self.label_index(default)?;
        self.add_incoming(default_label, false)?;
        let mut cases = Vec::with_capacity(targets.len());
        for (i, depth) in targets.iter().enumerate() {
            let label = self.label_index(*depth)?;
            self.add_incoming(label, false)?;
            cases.push((
                self.m.ctx.i32_type().const_int(i as u64, false),
                self.labels[label].target,
            ));
        }
        self.m
            .builder
            .build_switch(index, self.labels[default_label].target, &cases)?;
        Ok(Flow::Terminated)
    }

    fn enter_label(
        &mut self,
        kind: LabelKind,
        target: inkwell::basic_block::BasicBlock<'ctx>,
        result: Option<BasicTypeEnum<'ctx>>,
    ) {
        self.labels.push(Label {
            kind,
            target,
            result,
            incoming: Vec::new(),
            stack_base: self.stack.len(),
        });
    }

    fn label_index(&self, depth: u32) -> Result<usize, CodegenError> {
        self.labels
            .len()
            .checked_sub(1 + depth as usize)
            .ok_or_else(|| {
                self.malformed(format!(
                    "branch to label depth {depth} with {} enclosing labels",
                    self.labels.len()
                ))
            })
    }

    /// Record the value a branch from the current block carries to label
    /// `index` (exit labels with a result only). `pop` consumes it.
    fn add_incoming(&mut self, index: usize, pop: bool) -> Result<(), CodegenError> {
        let label = &self.labels[index];
        if label.kind == LabelKind::LoopHead || label.result.is_none() {
            return Ok(());
        }
        let ty = label.result;
        let value = if pop {
            self.pop()?
        } else {
            *self
                .stack
                .last()
                .ok_or_else(|| self.malformed("branch with a result but an empty stack".into()))?
        };
        let value = self.coerce_to(value, ty)?;
        let block = self.current_block()?;
        self.labels[index].incoming.push((value, block));
        Ok(())
    }

    fn coerce_to(
        &self,
        value: BasicValueEnum<'ctx>,
        ty: Option<BasicTypeEnum<'ctx>>,
    ) -> Result<BasicValueEnum<'ctx>, CodegenError> {
        match ty {
            Some(BasicTypeEnum::IntType(t))
                if value.is_int_value() && value.get_type() != t.into() =>
            {
                let as_ir = match t.get_bit_width() {
                    1 => IrType::Bool,
                    64 => IrType::I64,
                    _ => IrType::I32,
                };
                self.coerce(value, as_ir)
            }
            _ => Ok(value),
        }
    }

    fn branch_to_label(&mut self, depth: u32) -> Result<(), CodegenError> {
        let index = self.label_index(depth)?;
        self.add_incoming(index, true)?;
        self.m
            .builder
            .build_unconditional_branch(self.labels[index].target)?;
        Ok(())
    }

    /// End of a `Block`/`If` arm reached by falling through: branch to the end.
    fn fall_through_to_label(&mut self, flow: Flow) -> Result<(), CodegenError> {
        if flow == Flow::Continues {
            self.branch_to_label(0)?;
        }
        Ok(())
    }

    /// Pop the innermost exit label and continue at its end, merging the
    /// values branched there.
    fn leave_exit_label(
        &mut self,
        end: inkwell::basic_block::BasicBlock<'ctx>,
    ) -> Result<Flow, CodegenError> {
        let label = self
            .labels
            .pop()
            .ok_or_else(|| self.malformed("label stack underflow".into()))?;
        self.stack.truncate(label.stack_base);
        self.m.builder.position_at_end(end);
        if end.get_first_use().is_none() {
            // Nothing branches here: the code after the construct is dead.
            self.m.builder.build_unreachable()?;
            return Ok(Flow::Terminated);
        }
        if let Some(ty) = label.result {
            let value = match label.incoming.as_slice() {
                [(only, _)] => *only,
                incoming => {
                    let phi = self.m.builder.build_phi(ty, "merge")?;
                    for (value, block) in incoming {
                        phi.add_incoming(&[(value, *block)]);
                    }
                    phi.as_basic_value()
                }
            };
            self.push(value);
        }
        Ok(Flow::Continues)
    }

    pub(crate) fn current_block(
        &self,
    ) -> Result<inkwell::basic_block::BasicBlock<'ctx>, CodegenError> {
        self.m
            .builder
            .get_insert_block()
            .ok_or_else(|| CodegenError::Llvm("builder has no block".into()))
    }
}
