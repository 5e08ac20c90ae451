/* model_internal: what code inside src/model that edits a loaded model's weights (lora_apply.c) needs
 * beyond model.h. Not for use outside src/model. */
#ifndef HF_MODEL_INTERNAL_H
#define HF_MODEL_INTERNAL_H

#include "kernels/matmul.h"
#include "model/model.h"

/* The seven linear projections of a layer, in the order of PEFT's usual target_modules list. */
enum { MODEL_PROJ_Q, MODEL_PROJ_K, MODEL_PROJ_V, MODEL_PROJ_O, MODEL_PROJ_GATE, MODEL_PROJ_UP, MODEL_PROJ_DOWN,
       MODEL_NPROJ };
/* "q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj". */
extern const char *const model_proj_names[MODEL_NPROJ];

/* The weight of projection proj of layer l (NULL when either does not exist). Its data may point into a
 * read-only memory-mapped file: to change a weight, point data at a new buffer and hand that buffer to
 * model_own. */
mm_weight *model_proj_weight(model *m, int layer, int proj);
/* Gives the backend the weights again after model_proj_weight's data pointers changed (on the CPU it maps host
 * memory in place; a GPU backend uploads). 0, or -1 with the reason in err (the model is then unusable). */
int model_weights_changed(model *m, char *err, size_t errcap);
/* The model takes ownership of buf (malloc'd) and frees it in model_free. -1 when out of memory (buf is
 * then still the caller's). */
int model_own(model *m, void *buf);

#endif
