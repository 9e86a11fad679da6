"""AdaBelief optimizer for Keras 3 (Zhuang et al., 2020, "AdaBelief Optimizer: Adapting Stepsizes by the Belief
in Observed Gradients", arXiv:2010.07468).

Written against `keras.optimizers.Optimizer`, so clipping, weight decay, EMA, gradient accumulation,
`tf.function`, `tf.distribute` and `tf.train.Checkpoint` work as for keras' own optimizers.
"""

from collections.abc import Callable
from typing import Any

import keras
from keras import ops


@keras.saving.register_keras_serializable(package="tfaip_core")
class AdaBelief(keras.optimizers.Optimizer):
    """AdaBelief: Adam whose second moment tracks the variance of the gradient around its EMA.

    Per step t (1-based) with gradient g:
        m_t = beta_1 * m_{t-1} + (1 - beta_1) * g
        s_t = beta_2 * s_{t-1} + (1 - beta_2) * (g - m_t)^2 + epsilon
        m_hat = m_t / (1 - beta_1^t),  s_hat = s_t / (1 - beta_2^t)
        w_t = w_{t-1} - lr * m_hat / (sqrt(s_hat) + epsilon)

    `epsilon` defaults to 1e-14 as in the paper's reference implementation: it is added to s inside the
    square root, so it plays the role of Adam's epsilon squared (1e-14 here ~ Adam's 1e-7).
    Slot variables: "momentum" (m) and "belief" (s), one each per trainable variable.
    """

    def __init__(
        self,
        learning_rate: float | keras.optimizers.schedules.LearningRateSchedule | Callable[[], Any] = 0.001,
        beta_1: float = 0.9,
        beta_2: float = 0.999,
        epsilon: float = 1e-14,
        weight_decay: float | None = None,
        clipnorm: float | None = None,
        clipvalue: float | None = None,
        global_clipnorm: float | None = None,
        use_ema: bool = False,
        ema_momentum: float = 0.99,
        ema_overwrite_frequency: int | None = None,
        loss_scale_factor: float | None = None,
        gradient_accumulation_steps: int | None = None,
        name: str | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(
            learning_rate=learning_rate,
            name=name,
            weight_decay=weight_decay,
            clipnorm=clipnorm,
            clipvalue=clipvalue,
            global_clipnorm=global_clipnorm,
            use_ema=use_ema,
            ema_momentum=ema_momentum,
            ema_overwrite_frequency=ema_overwrite_frequency,
            loss_scale_factor=loss_scale_factor,
            gradient_accumulation_steps=gradient_accumulation_steps,
            **kwargs,
        )
        self.beta_1 = beta_1
        self.beta_2 = beta_2
        self.epsilon = epsilon

    def build(self, var_list: list[keras.Variable]) -> None:
        """Create the slot variables: first moment ("momentum") and belief ("belief") per variable."""
        if self.built:
            return
        super().build(var_list)
        self._momentums, self._beliefs = self.add_optimizer_variables(var_list, ["momentum", "belief"])

    def update_step(self, gradient: Any, variable: keras.Variable, learning_rate: Any) -> None:
        """Apply one AdaBelief update to `variable` (see the class docstring for the formulas)."""
        dtype = variable.dtype
        lr = ops.cast(learning_rate, dtype)
        gradient = ops.cast(gradient, dtype)
        beta_1 = ops.cast(self.beta_1, dtype)
        beta_2 = ops.cast(self.beta_2, dtype)
        epsilon = ops.cast(self.epsilon, dtype)
        local_step = ops.cast(self.iterations + 1, dtype)
        beta_1_power = ops.power(beta_1, local_step)
        beta_2_power = ops.power(beta_2, local_step)

        index = self._get_variable_index(variable)
        m = self._momentums[index]
        s = self._beliefs[index]

        self.assign(m, ops.add(ops.multiply(beta_1, m), ops.multiply(1.0 - beta_1, gradient)))
        deviation = ops.subtract(gradient, m)
        self.assign(
            s,
            ops.add(
                ops.add(ops.multiply(beta_2, s), ops.multiply(1.0 - beta_2, ops.square(deviation))),
                epsilon,
            ),
        )
        m_hat = ops.divide(m, 1.0 - beta_1_power)
        s_hat = ops.divide(s, 1.0 - beta_2_power)
        self.assign_sub(variable, ops.divide(ops.multiply(lr, m_hat), ops.add(ops.sqrt(s_hat), epsilon)))

    def get_config(self) -> dict[str, Any]:
        """Return the constructor arguments (keras serialisation)."""
        config = super().get_config()
        config.update({"beta_1": self.beta_1, "beta_2": self.beta_2, "epsilon": self.epsilon})
        return config
