"""Process and infrastructure code of the pipeline (no bpy, no image math): the worker
process and its client, the vendored Python environment, model downloads, batch runs and
the command lines. Today it holds the batch planner (:mod:`.batch_plan`) and the batch
summary (:mod:`.batch_summary`); the other modules of that kind move in here later.

Importers name the module (``from pipeline.runtime.batch_plan import plan_batch``): this
package re-exports nothing, so importing one of its modules never loads the others.
"""
